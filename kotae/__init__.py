"""kotae: answers from your team's own knowledge.

The core both Lambdas share: items and documents, providers (embedders, stores, generators)
behind small interfaces, versioned prompts, retrieval and the answer pipeline.
"""

__version__ = "0.1.0"
