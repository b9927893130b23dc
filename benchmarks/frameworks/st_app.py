"""Streamlit version of the studio's smallest loop: a number in, a figure out."""

import streamlit as st

hours = st.number_input("home nurse hours", value=12000, step=100, key="hours")
st.markdown(f"benefit: <span id='out'>{hours * 0.001:.4f}</span>", unsafe_allow_html=True)
