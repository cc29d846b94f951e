"""The exit codes of `music-reclass`, one meaning each (the README lists them):

0    everything asked for was done
1    the command ran, but some files failed (each one is named on stderr; the others were done)
2    usage error: a bad option or value, found by argparse before anything ran
3    the command could not run: the model, device, data, folder or journal cannot be used (the message says
     which and why); nothing was changed
130  interrupted (Ctrl+C)
141  the output pipe closed (e.g. piped into `head`)
"""

EXIT_OK = 0
EXIT_FILES_FAILED = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
