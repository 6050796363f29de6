"""The Gradio chat window.

``app`` lays out the page, ``chat`` answers in it, ``articles`` lists, adds and removes
articles, ``render`` builds its HTML, ``feedback`` keeps the votes, ``guard`` says who may
change the articles, ``server`` serves it all.
"""

import os

# Gradio reports usage to api.gradio.app and checks for a newer version at start-up
# unless this says no. The offline promise holds whatever the user's environment
# says, so it is set here, before any module of this package imports Gradio, and
# Blocks is told too.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
