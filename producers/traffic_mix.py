"""The simulated traffic mix: who reports what, through which channels, and how often."""

from __future__ import annotations

from collections.abc import Mapping

# Who hands incidents over, and through which channels (DESIGN §1).
DEPARTMENTS = {
    "retail_store": 0.40,
    "call_centre": 0.28,
    "service_centre": 0.10,
    "services": 0.08,
    "document_management": 0.07,
    "other": 0.07,
}
THANKING_DEPARTMENTS = {
    "retail_store": 0.45, "call_centre": 0.30, "service_centre": 0.10, "services": 0.10,
    "other": 0.05,
}
CHANNELS: Mapping[str, Mapping[str, float]] = {
    "retail_store": {"email": 0.45, "document_system": 0.35, "in_store": 0.20},
    "call_centre": {"phone": 0.60, "email": 0.28, "chat": 0.07, "messenger": 0.05},
    "service_centre": {"email": 0.92, "document_system": 0.08},
    "services": {"email": 0.90, "document_system": 0.10},
    "document_management": {"document_system": 1.0},
    "other": {"email": 0.45, "web_form": 0.25, "social": 0.15, "messenger": 0.10, "chat": 0.05},
}
SOURCES = {
    "call_centre": "callcentre",
    "service_centre": "service-centre",
    "services": "services",
    "document_management": "edms",
    "other": "web",
}
STORES = tuple(f"store-{n:03d}" for n in (1, 2, 3, 5, 7, 8, 11, 12, 14, 15, 17, 19, 21, 23, 26))
STORE_WEIGHTS = tuple(1 / (1 + 0.2 * rank) for rank in range(len(STORES)))
CATEGORIES: Mapping[str, Mapping[str, float]] = {
    "retail_store": {
        "promotion_terms": 0.25, "poor_consultation": 0.25, "product_quality": 0.25,
        "quality_certificate": 0.10, "warranty": 0.15,
    },
    "call_centre": {
        "promotion_terms": 0.15, "poor_consultation": 0.10, "product_quality": 0.20,
        "poor_service": 0.15, "delivery": 0.20, "assembly": 0.08, "warranty": 0.12,
    },
    "service_centre": {"warranty": 0.55, "product_quality": 0.30, "poor_service": 0.15},
    "services": {"assembly": 0.45, "delivery": 0.30, "poor_service": 0.25},
    "document_management": {"quality_certificate": 0.60, "product_quality": 0.25, "warranty": 0.15},
    "other": {
        "poor_service": 0.35, "delivery": 0.30, "promotion_terms": 0.20, "product_quality": 0.15,
    },
}
SUMMARIES = {
    "promotion_terms": ("Promotion discount was not applied at checkout",
                        "Customer disputes the terms of a loyalty promotion"),
    "poor_consultation": ("Consultant gave wrong information about the product",
                          "Customer was not told about compatible accessories"),
    "product_quality": ("Product stopped working within two weeks",
                        "Visible defect found after unpacking"),
    "quality_certificate": ("Customer asks for the quality certificate of a product",
                            "Certificate of conformity requested for a purchase"),
    "poor_service": ("Long queue and impolite staff at the service desk",
                     "Promised call-back never happened"),
    "delivery": ("Delivery missed the agreed time slot", "Goods were delivered damaged"),
    "assembly": ("Assembly team did not arrive", "Furniture assembled with missing parts"),
    "warranty": ("Warranty repair takes longer than promised",
                 "Warranty claim refused without explanation"),
}
RESOLUTIONS: Mapping[str, Mapping[str, float]] = {
    "promotion_terms": {"explanation": 0.6, "refund": 0.4},
    "poor_consultation": {"explanation": 0.5, "exchange": 0.3, "refund": 0.2},
    "product_quality": {"exchange": 0.45, "refund": 0.30, "repair": 0.25},
    "quality_certificate": {"certificate_provided": 0.9, "explanation": 0.1},
    "poor_service": {"explanation": 0.7, "refund": 0.3},
    "delivery": {"explanation": 0.5, "refund": 0.3, "exchange": 0.2},
    "assembly": {"repair": 0.6, "explanation": 0.4},
    "warranty": {"repair": 0.6, "exchange": 0.3, "explanation": 0.1},
}
PRIORITIES = {"normal": 0.75, "high": 0.12, "low": 0.10, "critical": 0.03}
# Paper-trail causes come from departments that hand over documents.
PAPER_CAUSES = {
    "incomplete_documents": 0.22, "no_comment": 0.10, "missing_remark_number": 0.09,
    "illegible_customer_name": 0.07, "low_resolution_scan": 0.08,
}
OTHER_CAUSES = {
    "slow_department_response": 0.17, "supplier_delay": 0.13, "customer_unreachable": 0.09,
    "waiting_for_expert": 0.05,
}
PAPER_DEPARTMENTS = frozenset({"retail_store", "document_management"})
PAUSE_OF_CAUSE = {
    "supplier_delay": "awaiting_supplier", "customer_unreachable": "awaiting_customer",
}
PAUSE_REASONS = {"awaiting_customer": 0.6, "awaiting_supplier": 0.4}
ESCALATION_TARGETS = {"tech_support": 0.70, "store_manager": 0.18, "supplier": 0.12}
ESCALATION_REASONS = {
    "tech_support": "technical question for an engineer",
    "store_manager": "decision of the store manager needed",
    "supplier": "supplier assessment of the defect",
}
REOPEN_REASONS = (
    "customer disputes the resolution", "the defect came back", "refund not received",
)
REOPEN_AFTER_CLOSURE_REASONS = (
    "customer came back after closure", "the repaired product failed again",
)
RESOLUTION_CORRECTION_REASON = "resolution recorded by mistake"
# The groups that may hold an incident (a reassignment's department): the source departments,
# plus Customer Service's own desk and technical support as holding groups.
HOLDING_GROUPS = {
    "customer_service": 0.30, "tech_support": 0.25, "service_centre": 0.13, "services": 0.10,
    "retail_store": 0.08, "call_centre": 0.07, "document_management": 0.07,
}
REASSIGN_REASONS = {
    "customer_service": "back to the customer service desk",
    "tech_support": "needs a technical support engineer",
    "service_centre": "repair handled by the service centre",
    "services": "the installation team follows up",
    "retail_store": "the store has to act",
    "call_centre": "call-back by the call centre",
    "document_management": "documents have to be checked",
}
REROUTE_REASON = "follow-up after resolution"
CLOSE_AT_RESOLUTION_REASON = "confirmed by the customer at resolution"
AUTO_CLOSE_REASON = "auto-closed after resolution"
RATINGS = {"good": 0.58, "neutral": 0.25, "bad": 0.17}
TROUBLED_RATINGS = {"good": 0.25, "neutral": 0.30, "bad": 0.45}
RATING_COMMENTS = {
    "good": ("quick and polite", "problem solved, thank you"),
    "neutral": ("took a while but solved", "ok"),
    "bad": ("took far too long", "had to call several times"),
}
PRAISED = {
    "retail_store": ("consultant {first}", "{store} team"),
    "call_centre": ("operator {first}", "call centre team"),
    "service_centre": ("engineer {first}", "service centre team"),
    "services": ("assembly team", "installer {first}"),
    "document_management": ("document service team",),
    "other": ("customer service team", "manager {first}"),
}
MALE_NAMES = ("Alexei", "Dmitry", "Ivan", "Sergei", "Pavel", "Mikhail", "Andrei", "Nikolai")
FEMALE_NAMES = ("Anna", "Olga", "Maria", "Elena", "Natalia", "Irina", "Tatiana", "Svetlana")
SURNAMES = ("Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Volkov", "Lebedev")

# Calendar month → relative volume (New Year, 8 March, back to school); mean ≈ 1.
SEASONALITY = (0.93, 0.93, 1.04, 0.97, 0.94, 0.96, 1.00, 1.08, 1.06, 1.00, 1.02, 1.07)
GROWTH_PER_MONTH = 0.005
ESCALATION_SHARE = 0.15
SECOND_ESCALATION_SHARE = 0.10
LONG_SERVICE_SHARE = 0.15
PAUSE_SHARE = 0.22
LATE_HANDOVER_SHARE = 0.12  # of non-phone contacts, ≈ 10 % of all
LATE_ANSWER_SHARE = 0.10
LATE_COMPLETION_REPORT_SHARE = 0.08
REOPEN_SHARE = 0.06
RATING_SHARE = 0.33
STANDALONE_THANKS_PER_INCIDENT = 0.035
THANKS_AFTER_GOOD_RATING = 0.20
THANKS_OTHERWISE = 0.018
# Re-routing, corrections and closure (incident.reassigned, .reclassified, .closed).
REASSIGN_SHARE = 0.10  # of incidents, moved to another group while open
REASSIGN_AGAIN_SHARE = 0.25  # of those moved, moved once more (three moves at most)
REROUTE_RESOLVED_SHARE = 0.012  # of resolved incidents, re-routed without reopening
PRIORITY_CHANGE_SHARE = 0.025
CATEGORY_CORRECTION_SHARE = 0.05
CHANNEL_CORRECTION_SHARE = 0.013  # of incidents whose channel can be mistaken (≈ 1 % of all)
PAUSE_SWITCH_SHARE = 0.15  # of pauses: the reply makes the incident wait for the other party
RESOLUTION_CORRECTION_SHARE = 0.004  # resolved, reopened and resolved again in one minute
CLOSE_AT_RESOLUTION_SHARE = 0.08  # of final resolutions, closed in the same minute
LEFT_RESOLVED_SHARE = 0.03  # of final resolutions, never closed
AUTO_CLOSE_DAYS = 5  # the nightly job closes incidents resolved at least this long
AUTO_CLOSE_HOUR = 2  # local time of the nightly job
REOPEN_AFTER_CLOSURE_SHARE = 0.005  # of closed incidents
CS_SOURCE = "cs-desk"
SURVEY_SOURCE = "csat-survey"
# Sources that keep a per-incident change counter (the event's ``sequence``): the Customer
# Service desk and the document management system; mail, phone, web and the survey do not.
SEQUENCED_SOURCES = frozenset({CS_SOURCE, "edms"})

# Customers (producers.incident_story.Customers): the share of incidents naming one; the share
# of those who came before (picked among the latest known customers, so they come back
# within days or weeks); what a new customer gives besides the name.
CUSTOMER_SHARE = 0.85
RETURNING_CUSTOMER_SHARE = 0.25
RETURNING_CUSTOMER_POOL = 40
CUSTOMER_GIVES = {"phone+email": 0.7, "phone": 0.15, "email": 0.15}
