"""Names of the kinds of table the readmission domain reads, as its designs and the model files
trained on them record them (so they must never change): one place for the modules that read,
build and recognise each kind."""

#: Diabetes 130 encounter files (:mod:`optalloc.domains.encounters`).
DIABETES = "diabetes130"
#: Stays tables (:mod:`optalloc.domains.stays`).
READMISSION = "readmission"
