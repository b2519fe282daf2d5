"""Scores of generated samples: FID with Inception or offline features, sample metrics (modes,
sharpness, nearest neighbours, clustering), audio measures, and held-out likelihoods."""
