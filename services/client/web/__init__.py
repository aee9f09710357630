"""client's web entrypoint: the pages, their forms and the app factory."""
