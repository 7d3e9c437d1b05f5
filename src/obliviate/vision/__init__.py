"""Vision unlearning under bias: a biased Coloured-MNIST benchmark, small classifiers, CUPID and baselines."""
