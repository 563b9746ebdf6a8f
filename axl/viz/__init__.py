"""Pictures of builds: DAGs (Graphviz dot, Mermaid), the HTML run report, live progress.

Nothing here is imported on the build path: the CLI imports a module when a command needs it, and
heavy dependencies (rich, pyarrow) are imported inside the functions that use them.
"""
