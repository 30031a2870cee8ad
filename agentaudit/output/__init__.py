"""Renderers and writers: result folders, findings files, (later) packs and signatures."""
