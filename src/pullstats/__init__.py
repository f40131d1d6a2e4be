"""pullstats: pull analytics for container registries, speaking Docker Hub's DVP Data API."""

__version__ = "0.1.0"
