"""Litestar dependency providers: handlers receive the parts built at start-up."""

from litestar.datastructures import State
from litestar.di import Provide

from app.answers import AnswerService
from app.generation import Generator
from app.library import Library
from app.services import Services
from enclave.settings import Settings


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_settings(services: Services) -> Settings:
    return services.settings


def provide_answers(services: Services) -> AnswerService:
    return services.answers


def provide_library(services: Services) -> Library:
    return services.library


def provide_generator(services: Services) -> Generator:
    return services.generator


DEPENDENCIES = {
    "services": Provide(provide_services, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "answers": Provide(provide_answers, sync_to_thread=False),
    "generator": Provide(provide_generator, sync_to_thread=False),
    "library": Provide(provide_library, sync_to_thread=False),
}
