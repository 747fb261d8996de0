"""The built-in bilingual demo crawl: ``generate_demo_crawl(out, num_docs, num_dumps, seed)``.

See ``tasks/demo_crawl/generator.py`` for the layout and docs/demo_crawl.md for the design.
"""

from tasks.demo_crawl.alignment import generate_alignment_data
from tasks.demo_crawl.generator import DemoCrawlConfig, generate_demo_crawl, generate_demo_crawl_with
from tasks.demo_crawl.similarity import jaccard, shingles, text_jaccard

__all__ = ["DemoCrawlConfig", "generate_alignment_data", "generate_demo_crawl", "generate_demo_crawl_with", "jaccard", "shingles", "text_jaccard"]
