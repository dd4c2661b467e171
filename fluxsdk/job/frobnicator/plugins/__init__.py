"""fluxsdk's frobnicator plugins, in Flux's form; load one by name (``--plugin defaults``)."""
