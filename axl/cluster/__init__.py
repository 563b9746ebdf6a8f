"""Running a build's steps on a cluster (Dask's ``distributed``), the axl process staying the
engine. See ``README.md``, "Running on a cluster"."""
