"""Starting points written into a user's folder: ``axl init`` (a runnable project) and ``axl bazel
init`` (the files axl's Bazel rules need). Both write atomically, print what they wrote, and never
replace a file a person wrote (``axl bazel init --force`` aside)."""
