"""Tracking readmissions over time: periods, drift, control charts, history and retraining.

A model that drifts keeps steering the plan; this package tells the planner when the
population, the outcome rate or the model's calibration has moved, in words, period by period.

* :mod:`periods` cuts encounters into calendar periods (when the source has an admission date)
  or into equal blocks in time order (Diabetes 130, whose ``encounter_id`` rises with time);
* :mod:`optalloc.risk.drift` keeps a training-data profile in the model file and measures each period's
  population stability index (PSI) against it;
* :mod:`control` charts observed against expected readmissions with limits widened by the
  between-period variation measured in training (an overdispersed risk-adjusted p-chart);
* :mod:`track` puts them together per period and per group, with alarms; :mod:`plot` draws it;
* :mod:`intervention` compares observed/expected before and after a programme started;
* :mod:`retrain` weighs a challenger against the champion; :mod:`forecast` predicts demand;
* :mod:`history` stores every tracked period and every retraining decision in the workspace.
"""
