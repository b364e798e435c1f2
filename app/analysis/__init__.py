"""Pure statistics: numbers and count tables in, named results out. No Flask, no database.

sampling      sample sizes (Cochran) and margins of error
quality       too fast, bursts from one network
scales        a rating scale as plain data (codes, 0–100 scores, top boxes, off-scale codes)
intervals     Wilson and t intervals, vectorised over groups
items         per-item statistics of a scale question for every group, from count tables
weighting     raking to population margins; weighted means and proportions with linearised SEs
comparisons   chi-square, Kruskal–Wallis, pairwise tests with Holm, two waves (Newcombe)
reliability   Cronbach's alpha, item–total correlations, Spearman drivers and IPA quadrants
ranking       bootstrap score and rank intervals, and the pairs a survey cannot order
"""
