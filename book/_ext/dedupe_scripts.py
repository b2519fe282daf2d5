"""Drop repeated <script> entries from each page.

With Jupyter Book 1.x, sphinx-thebe and sphinx-togglebutton register their inline configuration
scripts twice; the second ``const THEBE_JS_URL`` is a SyntaxError in every page's console. This
keeps the first of any identical script (same file, same attributes, same inline body).
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # same file and attributes (inline scripts: same body); one copy names no file as None, the other as ""
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
