"""One switch for every link to the book's repository: ``repository_links`` in _config.yml.

The repository address lives in one place, ``repository.url`` in _config.yml, and the theme
turns it into buttons: the repository, "open an issue", and launching a chapter on Binder or
Colab. A button to an address that is not (yet) a public home is a dead end for the reader,
so while ``repository_links`` is false this extension switches all of them off, whatever the
rest of _config.yml says, and takes the address out of the theme's settings so that nothing
else can link to it. Set it to true once ``repository.url`` is the real public repository,
and the buttons configured in _config.yml (``html.use_*_button``, ``launch_buttons``) appear.
"""

# Each button the theme can draw from the repository address, and the value that hides it.
_OFF = {
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "use_source_button": False,
}
_LAUNCHERS = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url")


def switch_links(app, config):
    if config.repository_links:
        return
    options = dict(config.html_theme_options or {})
    options.update(_OFF)
    launch = dict(options.get("launch_buttons") or {})
    launch.update({key: "" for key in _LAUNCHERS})
    launch["thebe"] = False
    options["launch_buttons"] = launch
    options.pop("repository_url", None)
    config.html_theme_options = options


def setup(app):
    app.add_config_value("repository_links", False, "html", bool)
    app.connect("config-inited", switch_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
