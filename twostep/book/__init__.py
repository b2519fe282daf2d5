"""The book's tooling: the papermill runner with profiles, the claims page, the parameters page."""
