"""Evaluation: from counted responses to the figures evaluators read.

queries   the SQL that turns answers into count tables (the database counts, GROUP BY)
summary   per item × group statistics of a campaign, composed from the queries and app.analysis
"""
