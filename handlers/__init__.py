"""The one place conversations are composed. Importing a handler module registers nothing globally."""

from bot.conversation.router import Router
from handlers import (
    ask,
    broadcast,
    broadcast_message,
    calculator,
    dashboard,
    explain,
    export,
    followup,
    interest,
    invite,
    officer,
    onboarding,
    privacy,
    whoami,
)


def build_router() -> Router:
    router = Router("bpu-bot")
    # Privacy first: STOP, DATA SAYA and HAPUS must work from any state, before anything else reads the text.
    for module in (
        privacy,
        onboarding,
        explain,
        calculator,
        interest,
        followup,
        ask,
        officer,
        invite,
        broadcast,
        broadcast_message,
        export,
        dashboard,
        whoami,
    ):
        router.include(module.router)
    return router
