"""fluxsdk's validator plugins, in Flux's form; load one by name (``--plugin feasibility``)."""
