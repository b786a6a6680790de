"""Rewrites: GraphDef in, new GraphDef out; one rewrite a file; inputs are never modified."""
