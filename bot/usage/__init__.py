"""Learning from use: every question and 👍/👎 vote in the SQL database, and the usage report."""

from bot.usage.log import UsageLog, source_ref
from bot.usage.report import UsageReport, UsageUnavailable

__all__ = ["UsageLog", "UsageReport", "UsageUnavailable", "source_ref"]
