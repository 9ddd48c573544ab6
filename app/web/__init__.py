"""The employees' web pages, rendered on the server from the same service layer as the API."""

from app.web.feedback import FeedbackPage
from app.web.jobs import JobsPage
from app.web.library import LibraryPage
from app.web.login import LoginPage
from app.web.search import SearchPage

PAGES = [SearchPage, LibraryPage, JobsPage, FeedbackPage, LoginPage]

__all__ = ["PAGES"]
