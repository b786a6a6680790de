"""Read-only analysis of a GraphDef: names and the networkx view."""
