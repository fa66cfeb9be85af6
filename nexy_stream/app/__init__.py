"""The composition root: a whole nexy-stream server, assembled from every layer below.

Imports run one way: session <- pipeline <- {server, auth} <- {legacy, ops} <- app <- cli.
``nexy_stream.app.config`` holds the settings and loads no server part, so the command line
can build its flags without loading the server; ``nexy_stream.app.server`` starts one.
"""
