"""Work-item summaries for the sample Jira export, per theme, with ``{slot}`` fillers.

Product-theme summaries never contain the words the summary rules of ``theme_rules.yaml``
look for (on-call/incident/postmortem, upgrade/refactor/deprecated): those rules must only
fire on the items planted for them.
"""

from __future__ import annotations

SLOTS: dict[str, tuple[str, ...]] = {
    "report": ("usage report", "revenue report", "team activity report", "SLA report",
               "monthly summary", "pipeline report"),
    "integration": ("Slack", "Salesforce", "HubSpot", "Zendesk", "Google Sheets",
                    "Microsoft Teams"),
    "device": ("iPhone", "iPad", "Android phone", "Android tablet", "Pixel"),
    "service": ("billing-api", "search-indexer", "auth-service", "notifications", "export-worker",
                "web-gateway"),
    "lib": ("React", "Django", "Postgres driver", "Kotlin", "Swift toolchain", "Node.js",
            "OpenSSL", "Elasticsearch client"),
    "version": ("18", "5.1", "2.x", "20 LTS", "3.0", "9"),
    "module": ("permissions", "invoice rendering", "notification fan-out", "session handling",
               "CSV import", "settings"),
    "n": ("2", "3", "5", "10", "50", "100"),
}

EPIC_TITLES: dict[str, tuple[str, ...]] = {
    "Onboarding": ("New workspace setup wizard", "Guided first-week checklist",
                   "Bulk invite and team setup", "Self-serve trial activation"),
    "Billing & invoicing": ("Invoice PDF redesign", "Usage-based billing", "Checkout redesign",
                            "Tax and VAT handling", "Self-serve plan changes"),
    "Reporting & dashboards": ("Custom dashboard builder", "Scheduled report e-mails",
                               "Report export to Excel"),
    "Integrations": ("Slack app v2", "Two-way CRM sync", "Public webhooks", "Integration health page"),
    "Performance & reliability": ("Page load budget", "Database read replicas",
                                  "Background job resilience", "Multi-region failover"),
    "Mobile app": ("Offline mode for field teams", "Mobile push notifications",
                   "Tablet layout", "Mobile SSO login", "Android widget", "Photo attachments on mobile"),
    "Search": ("Search relevance tuning", "Search filters", "Cross-workspace search"),
    "Permissions & admin": ("Custom roles", "Audit log", "SCIM provisioning", "Admin console v2"),
    "Maintenance (KTLO)": ("Keep the lights on H2", "Customer escalations"),
    "Tech debt": ("Platform hygiene", "Frontend build modernisation"),
}

ITEM_SUMMARIES: dict[str, tuple[str, ...]] = {
    "Onboarding": (
        "Add progress bar to setup wizard", "Send reminder e-mail when invite is not accepted",
        "Sample project for new workspaces", "Skip button on product tour",
        "Domain verification step in signup", "Track checklist completion events",
        "Bulk invite from CSV during setup", "Empty state copy for first login",
        "Google SSO signup loop", "Welcome e-mail sequence A/B variants",
        "Prefill company name from e-mail domain", "Checklist item: connect first data source",
    ),
    "Billing & invoicing": (
        "Add VAT number to invoice PDF", "Proration preview when adding seats",
        "Support purchase order numbers", "Retry failed card payments after {n} days",
        "Billing contact separate from owner", "Refund flow for cancelled seats",
        "Itemised usage lines on invoice", "Annual plan in EUR", "Dunning e-mail templates",
        "Checkout address form validation", "Show next payment date on billing page",
        "Tax calculation for US states",
    ),
    "Reporting & dashboards": (
        "Schedule {report} e-mail", "Resizable dashboard widgets", "Export {report} to Excel",
        "Date range filter beyond 90 days", "Drill-down from summary chart",
        "Saved dashboard filters", "Compare with previous period in {report}",
        "Group {report} by team", "Share dashboard with external viewers",
    ),
    "Integrations": (
        "{integration} OAuth token refresh", "Webhook retry with backoff",
        "Two-way sync for {integration} contacts", "Expose custom fields in webhook payload",
        "Integration error log page", "Rate limit headers on REST API",
        "{integration} app: channel mapping", "Official Python SDK", "Pagination for list endpoints",
        "Deduplicate records created by {integration} sync",
    ),
    "Performance & reliability": (
        "Cache workspace settings", "Reduce dashboard query time",
        "Read replica for reporting queries", "Retry policy for {service}",
        "Memory leak in editor tab", "Chunked uploads for large files",
        "Load test {service} at {n}x traffic", "Connection pool tuning for {service}",
        "Lazy-load attachments", "Circuit breaker around {service}",
    ),
    "Mobile app": (
        "Offline edits queue on {device}", "Push notification deep links",
        "Tablet landscape layout", "Face ID login", "Photo upload from {device} camera",
        "Android home screen widget", "Keyboard covers save button on {device}",
        "Mobile SSO with PKCE", "Crash when switching workspaces on {device}",
        "Battery usage of background sync", "Barcode scanner", "Attach files from Google Drive on mobile",
        "Open links in app instead of browser", "App store release checklist",
    ),
    "Search": (
        "Fuzzy matching for typos", "Search filters by owner and date", "Highlight matches in results",
        "Index comments and attachments", "Boost recent items in ranking", "Exact phrase queries",
        "Search by record ID", "Accent-insensitive search", "Saved searches",
    ),
    "Permissions & admin": (
        "Custom role editor", "Audit log export", "SCIM user provisioning",
        "Transfer ownership on deactivation", "IP allowlist", "Session timeout setting",
        "Restrict exports to admins", "Field-level edit locks", "Last login column in admin console",
        "Domain-restricted signups",
    ),
    "Maintenance (KTLO)": (
        "On-call: {service} alerts firing overnight", "Incident follow-up: {service} latency spike",
        "Postmortem actions for {service} outage", "Rotate TLS certificates for {service}",
        "Customer escalation: data missing after import", "Fix flaky alert thresholds for {service}",
        "Renew vendor API keys", "Restore nightly backup verification",
    ),
    "Tech debt": (
        "Upgrade {lib} to {version}", "Refactor {module} module", "Remove deprecated {module} endpoints",
        "Upgrade CI runners", "Refactor feature flag checks", "Remove deprecated config keys",
    ),
    "Unclassified": (
        "Investigate customer request from sales", "Spike: evaluate vendor options",
        "Update team wiki", "Prepare Q4 planning doc", "Sync with legal about DPA wording",
        "Clean up board columns", "Interview loop prep", "Write quarterly OKR review",
        "Demo prep for all-hands", "Answer security questionnaire", "Collect quotes for design agency",
        "Estimate work for partner request",
    ),
}

BUG_SUMMARIES: tuple[str, ...] = (
    "Error 500 when saving form", "Button misaligned on settings page", "Date shows in wrong time zone",
    "Tooltip text truncated", "Duplicate toast on save", "Broken link in footer",
    "Sorting ignores second column", "Avatar does not refresh after change",
    "Emoji breaks CSV import", "Modal cannot be closed with Esc",
)

# Items carrying the labels of two themes: their effort is split equally between them.
SPLIT_SUMMARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Billing & invoicing", "Integrations"): (
        "Sync invoices to {integration}", "Payment events in webhook payload",
        "Billing data in {integration} connector"),
    ("Search", "Performance & reliability"): (
        "Speed up search indexing", "Search latency budget", "Cache search suggestions"),
    ("Onboarding", "Permissions & admin"): (
        "Admin roles step in setup wizard", "SSO configuration during signup",
        "Invite approval in onboarding flow"),
}

FIRST_NAMES: tuple[str, ...] = (
    "Ana", "Ben", "Chloé", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kai", "Lena",
    "Marek", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes",
    "Xin", "Yara", "Zoë", "Ali", "Bea", "Carl", "Dana", "Emil", "Fay", "Gus", "Hana", "Ivo",
    "José", "Kim", "Liam", "Mina", "Nils",
)
LAST_NAMES: tuple[str, ...] = (
    "Silva", "Okafor", "Dubois", "Patel", "Yilmaz", "Adeyemi", "Larsen", "Tanaka", "García",
    "Becker", "Nakamura", "Novak", "Kowalski", "Haddad", "Farouk", "Iyer", "O'Brien", "Rossi",
    "Berg", "Singh", "Khan", "Petrova", "Hughes", "Wang", "Mansour", "Müller", "Demir", "Costa",
    "Lund", "Reyes", "Fischer", "Moreau", "Brandt", "Sato", "Horvat", "Álvarez", "Park", "Walsh",
    "Ahmed", "Eriksen",
)
