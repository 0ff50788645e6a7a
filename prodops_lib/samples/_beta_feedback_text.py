"""What beta users of scheduled reports write in the in-app beta feedback form, per planted
issue, with ``{slot}`` fillers and the 1–5 star rating they give alongside.

Four problems and one kind of praise. Each has 14+ phrasings that share meaning more than
words, so the grouping has to find the issue, not a repeated sentence.
"""

from __future__ import annotations

SLOTS: dict[str, tuple[str, ...]] = {
    "report": ("weekly usage report", "revenue report", "team activity report", "pipeline report",
               "SLA report", "monthly summary"),
    "hour": ("8am", "9:00", "7 in the morning", "noon", "6pm"),
    "delay": ("two hours", "half a day", "three hours", "until the afternoon", "a day"),
    "channel": ("Slack", "Microsoft Teams", "a Slack channel", "our Teams channel", "Google Chat"),
    "rows": ("50k", "200,000", "a million", "100k", "300k"),
    "zone": ("Berlin", "New York", "Sydney", "Singapore", "London", "Pacific"),
}

# issue → (rating range, phrasings); the ratings are the stars given with the comment
ISSUES: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {
    "Scheduled emails arrive late": ((1, 3), (
        "The {report} is scheduled for {hour} but the email shows up {delay} later.",
        "Scheduled emails are consistently late, our Monday {report} arrived after the standup.",
        "Delivery of the scheduled report is delayed by {delay}, which defeats the purpose.",
        "My scheduled send never lands on time, it is always {delay} behind.",
        "We set the {report} to go out at {hour} and people get it {delay} late.",
        "The schedule fires late: the inbox gets the {report} long after {hour}.",
        "Emails from the scheduler arrive hours after the time we picked.",
        "Our execs complained the {report} came in late again this week.",
        "Scheduled delivery is unreliable, sometimes on time, mostly {delay} late.",
        "Why does the {hour} schedule only reach my inbox {delay} afterwards?",
        "Late scheduled emails: the {report} should be there before the team starts.",
        "The report schedule runs but the mail is delayed by {delay}.",
        "Timing of scheduled emails is off, they come {delay} after the set time.",
        "Every scheduled email I get from you is late, by {delay} today.",
    )),
    "Exports time out on large reports": ((1, 2), (
        "Scheduling the {report} with {rows} rows fails with a timeout every time.",
        "Large scheduled exports time out and we get an empty attachment.",
        "The export of our {report} ({rows} rows) never finishes when it runs on a schedule.",
        "Big reports time out in the scheduler, small ones are fine.",
        "Scheduled CSV export gave up after a few minutes on {rows} rows.",
        "We get a 'request timed out' email instead of the {report}.",
        "Anything over {rows} rows cannot be scheduled, the export just times out.",
        "The scheduled PDF of the {report} fails because the export takes too long.",
        "Timeouts on every large export since we moved the {report} to a schedule.",
        "Export job for the scheduled {report} is killed before it completes.",
        "Our biggest report times out when scheduled, so we still export it by hand.",
        "Scheduled export failed: timed out while generating {rows} rows.",
        "The attachment is missing because the export timed out on the server.",
        "Heavy reports with {rows} rows don't survive the scheduled export.",
    )),
    "Send scheduled reports to chat channels": ((3, 4), (
        "Please let us send the scheduled {report} to {channel} instead of email.",
        "Could schedules post straight into {channel}? Nobody reads the emails.",
        "We would love a {channel} destination for scheduled reports.",
        "Email only is limiting, add {channel} as a delivery option.",
        "Our team lives in {channel}, the {report} should be posted there on schedule.",
        "Any plans to deliver scheduled reports to {channel}?",
        "A webhook or {channel} integration for schedules would be great.",
        "Can the scheduler post the {report} into {channel} every morning?",
        "Feature request: scheduled reports in {channel} channels.",
        "Please support {channel} as a target when scheduling a report.",
        "Sending the {report} to {channel} automatically would save us copying it over.",
        "Schedules should be able to notify {channel}, not just inboxes.",
        "Would be nice to pick {channel} as the destination of a schedule.",
        "We forward every scheduled email to {channel} by hand, please post there directly.",
    )),
    "Schedules use the wrong time zone": ((2, 3), (
        "The schedule ignores our {zone} time zone and sends at the wrong hour.",
        "Scheduled time is in UTC, not {zone} time, so it runs at odd hours.",
        "Time zone of the scheduler is wrong: {hour} for us means the middle of the night.",
        "Daylight saving shifted our schedule by an hour and it never corrected.",
        "Please let each schedule have its own time zone, our {zone} office gets it at night.",
        "The schedule picker shows one time zone and sends in another.",
        "Our {zone} team receives the {report} at the wrong local time.",
        "Schedules don't respect the workspace time zone setting.",
        "We set {hour} {zone} time but it fired at a completely different hour.",
        "The scheduler converts times to the wrong time zone.",
        "Time zone bug: reports scheduled for {hour} arrive at night for {zone}.",
        "Can the schedule follow the recipient's time zone instead of the server's?",
        "Since the clocks changed our schedule is an hour off.",
        "Local time in the scheduler is wrong for {zone}.",
    )),
    "Praise for scheduled reports": ((4, 5), (
        "Love the scheduled reports, saves me an hour every Monday.",
        "Scheduling the {report} is exactly what we needed, great work.",
        "This beta is fantastic, our team finally gets the {report} without asking.",
        "Really happy with scheduled reports, very easy to set up.",
        "Great feature! Setting up a schedule took two minutes.",
        "Scheduled reports are the best thing you shipped this year.",
        "Works nicely, we scheduled the {report} for the whole team.",
        "Thank you for scheduled reports, our managers love them.",
        "Super useful beta, I no longer export the {report} by hand.",
        "Set it and forget it, the scheduled {report} just works.",
        "Very pleased with the scheduling beta, please ship it to everyone.",
        "Brilliant addition, the weekly schedule keeps everyone informed.",
        "Easy to use and reliable for us, great job on scheduled reports.",
        "Our leadership team loves getting the {report} on schedule.",
    )),
}
