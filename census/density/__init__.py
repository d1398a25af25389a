"""Spatially explicit capture-recapture (SECR) by maximum likelihood, as the R package secr.

One idea per module: `data` reads secr's text input into a capture history, `mask`
builds or reads the habitat mask, `likelihood` evaluates secr's log-likelihood, and
`fit` maximises it and reports density with its interval. Pure numpy/scipy.
"""
