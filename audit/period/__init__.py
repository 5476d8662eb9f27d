"""The auditor's period report: did each control operate every night of the audit period?

compute.py turns the results ledger's frames into a view-model; render.py writes it as a PDF and
workbooks; source.py is where the ledger is read.
"""
