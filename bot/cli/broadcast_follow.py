"""Following a campaign on the terminal: one progress line redrawn until it is done or cancelled.

`bpu-bot broadcast create` and `bpu-bot broadcast show --follow` end here. It only reads: the running bot
(`bpu-bot run`) does the sending, so Ctrl-C stops the watching and nothing else.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from bot.cli.common import bar, database
from bot.config import Settings
from bot.models import Campaign, CampaignStatus, utcnow
from bot.services.campaigns import Progress

POLL_SECONDS = 0.5  # how often a followed campaign's counts are read again
QUIET_SECONDS = 10.0  # nothing moved for this long: say that the running bot does the sending
FINISHED = (CampaignStatus.DONE, CampaignStatus.CANCELLED)


# Here rather than in bot/cli/broadcast.py (which imports it) so the progress line shows times as the commands do.
def local_time(moment: datetime | None, settings: Settings, zone: bool = False) -> str:
    """A moment as the command line shows it: in the settings' zone, to the minute; "-" for none."""
    if moment is None:
        return "-"
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z" if zone else "%Y-%m-%d %H:%M")


def watch(settings: Settings, campaign_id: int) -> None:
    """Follow a campaign on stderr; Ctrl-C stops watching only."""
    try:
        asyncio.run(follow(settings, campaign_id, sys.stderr))
    except KeyboardInterrupt:
        print(
            f"\nstopped watching campaign {campaign_id}; the running bot keeps sending it "
            f"(`bpu-bot broadcast show {campaign_id}`)",
            file=sys.stderr,
        )


def progress_bar(progress: Progress) -> str:
    counts = (
        f"sent {progress.sent} failed {progress.failed} blocked {progress.blocked} "
        f"skipped {progress.skipped} waiting {progress.waiting}"
    )
    return f"{bar(progress.share_done)} {counts}"


def progress_line(campaign: Campaign, progress: Progress, settings: Settings, now: datetime) -> str:
    from bot.services.followups import Cadence

    if campaign.recipients is None and campaign.status == CampaignStatus.SCHEDULED:
        if campaign.starts_at > now:
            return f"scheduled: starts {local_time(campaign.starts_at, settings, zone=True)}"
        return "scheduled: starting"
    if campaign.recipients is None and campaign.status == CampaignStatus.PAUSED:
        return "paused before it started"
    line = f"{campaign.status} {progress_bar(progress)}"
    cadence = Cadence.from_settings(settings)
    if campaign.status == CampaignStatus.SENDING and not cadence.in_window(now):
        line += f" (quiet hours until {local_time(cadence.next_allowed(now), settings)[-5:]})"
    return line


def _bot_should_move(campaign: Campaign, settings: Settings, now: datetime) -> bool:
    """The running bot would be sending or starting this campaign now, were it running."""
    from bot.services.followups import Cadence

    if not Cadence.from_settings(settings).in_window(now):
        return False
    return campaign.status == CampaignStatus.SENDING or (
        campaign.status == CampaignStatus.SCHEDULED and campaign.starts_at <= now
    )


async def follow(
    settings: Settings,
    campaign_id: int,
    out: TextIO,
    poll: float = POLL_SECONDS,
    quiet: float = QUIET_SECONDS,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Redraw one progress line on `out` until the campaign is done or cancelled; its final status.

    Only reads: the running bot sends. When nothing moves for `quiet` seconds while the bot should be sending,
    say so once.
    """
    from bot.services.campaigns import campaign_progress, get_campaign

    async with database(settings) as sessions:
        seen: tuple[str, Progress] | None = None
        moved_at = time.monotonic()
        said = False
        width = 0
        while True:
            async with sessions() as session:
                campaign = await get_campaign(session, campaign_id)
                progress = (await campaign_progress(session, [campaign_id]))[campaign_id]
            now = clock()
            line = progress_line(campaign, progress, settings, now)
            out.write("\r" + line.ljust(width))
            width = len(line)
            if campaign.status in FINISHED:
                out.write("\n")
                out.flush()
                return campaign.status
            if (campaign.status, progress) != seen:
                seen, moved_at = (campaign.status, progress), time.monotonic()
            elif not said and time.monotonic() - moved_at >= quiet and _bot_should_move(campaign, settings, now):
                out.write("\nwaiting for the running bot (`bpu-bot run`) to send it\n")
                said, width = True, 0
            out.flush()
            await asyncio.sleep(poll)
