"""Litestar dependency providers: handlers receive the parts built at start-up."""

from litestar.datastructures import State
from litestar.di import Provide

from app.answering.answers import AnswerService
from app.answering.generation import Generator
from app.library import Library
from app.security.auth import provide_principal
from app.services import Services
from app.state import of_state
from enclave.embedder import Embedder
from enclave.settings import Settings


def provide_services(state: State) -> Services:
    return of_state(state).services


def provide_settings(services: Services) -> Settings:
    return services.settings


def provide_answers(services: Services) -> AnswerService:
    return services.answers


def provide_library(services: Services) -> Library:
    return services.library


def provide_generator(services: Services) -> Generator:
    return services.generator


def provide_embedder(services: Services) -> Embedder:
    return services.embedder


DEPENDENCIES = {
    "services": Provide(provide_services, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "answers": Provide(provide_answers, sync_to_thread=False),
    "generator": Provide(provide_generator, sync_to_thread=False),
    "library": Provide(provide_library, sync_to_thread=False),
    "embedder": Provide(provide_embedder, sync_to_thread=False),
    # The authenticated caller (app/security): its groups narrow every search and listing.
    "principal": Provide(provide_principal, sync_to_thread=False),
}
