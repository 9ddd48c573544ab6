"""Regenerate the binary sample documents (DOCX and PDF) in ``samples/``.

Run from anywhere: ``python samples/build_samples.py``. The Markdown, HTML and TXT samples are
hand-written and are not touched by this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = SAMPLES_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.docs_factory import write_docx, write_text_pdf  # noqa: E402

PRODUCT_FAQ_TITLE = "Atlas Ledger – Product FAQ"

PRODUCT_FAQ_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "What is Atlas Ledger?",
        [
            "Atlas Ledger is the cloud bookkeeping and invoicing product of Northwind Atlas GmbH. "
            "It is built for small and mid-size companies in Europe and handles invoices, "
            "receipts, bank reconciliation and VAT returns in one place. The current major "
            "release is Atlas Ledger 4.2.",
        ],
    ),
    (
        "Pricing and plans",
        [
            "Atlas Ledger is sold in three plans, billed per user and month:",
            "Starter costs 19 euros per user per month and is limited to 10 users and one "
            "company entity.",
            "Business costs 49 euros per user per month, supports unlimited users and up to five "
            "company entities, and includes the public API.",
            "Enterprise is priced individually and starts at 250 users. It adds single sign-on, "
            "a dedicated customer success manager and custom contract terms.",
            "Every plan can be tested free of charge for 30 days, no credit card required. "
            "Annual billing gives a discount of two months.",
        ],
    ),
    (
        "Which export formats are supported?",
        [
            "All data in Atlas Ledger can be exported at any time, in any plan. Supported export "
            "formats are CSV, Excel (XLSX), PDF, DATEV for German tax advisors and SAF-T XML for "
            "tax authorities in Portugal, Poland and Norway.",
            "Full account exports are prepared as a ZIP archive and the download link is sent "
            "by email; it stays valid for 72 hours.",
        ],
    ),
    (
        "Where is my data stored and how long is it kept?",
        [
            "Customer data is hosted exclusively in two data centres in Frankfurt am Main and "
            "Nuremberg and never leaves the European Union. Backups are encrypted and taken "
            "every four hours.",
            "Accounting records are retained for 10 years, as required by German commercial and "
            "tax law. After a contract ends, customers have 90 days to export their data; after "
            "that the account is deleted and backup copies are overwritten within a further "
            "30 days.",
        ],
    ),
    (
        "Support and service levels",
        [
            "Our support team is available by chat, email and phone from Monday to Friday, "
            "07:30 to 19:00 Central European Time. Enterprise customers additionally get 24/7 "
            "support with a one-hour response time for critical incidents.",
            "Atlas Ledger has a contractual availability target of 99.9 percent per month. "
            "Scheduled maintenance takes place on the first Sunday of each month between 02:00 "
            "and 04:00 CET and is announced one week in advance on the status page.",
        ],
    ),
    (
        "Integrations and API",
        [
            "The REST API is included from the Business plan upwards. Each API key may make up "
            "to 1,200 requests per minute. Webhooks notify external systems about new invoices "
            "and payments.",
            "Bank accounts are connected through an EU-licensed account information service; "
            "more than 3,000 banks in 14 countries are supported.",
        ],
    ),
]

TRAVEL_TITLE = "Travel and Expenses Policy - Northwind Atlas GmbH"

TRAVEL_PAGES: list[str] = [
    # Page 1: scope, booking, transport, hotels
    """TRAVEL AND EXPENSES POLICY
Northwind Atlas GmbH - Finance department - Policy FIN-04, version 5, valid from 1 March 2025

1. SCOPE
This policy applies to all business trips and work-related expenses of employees of Northwind \
Atlas GmbH. Travel must have a clear business purpose and should be planned as cost-consciously \
as possible. Video calls are preferred over travel whenever they achieve the same result.

2. BOOKING
All trains, flights and hotels are booked through the travel portal TripDesk at least 14 days \
before departure. Bookings made outside TripDesk are only reimbursed if TripDesk could not offer \
a comparable option, which must be explained in the expense report.

3. TRANSPORT
Rail is the default for journeys within Germany and for trips to neighbouring countries of up to \
six hours. Employees travel second class; first class is allowed when the train ride is longer \
than four hours. Flights are booked in economy class. Business class is only permitted for \
flights with a scheduled duration of more than eight hours.

4. HOTELS
Hotel costs are covered up to a cap per night, including breakfast:
- Germany: 150 EUR per night
- London, Paris, Zurich and Oslo: 220 EUR per night
- New York and San Francisco: 280 EUR per night
- All other destinations: 170 EUR per night
Costs above the cap require written approval from your team lead before booking. Private \
accommodation platforms may be used if they are cheaper than a comparable hotel.""",
    # Page 2: per diem, private car, local transport
    """5. PER DIEM (MEAL ALLOWANCE)
For business trips within Germany the company pays a daily allowance for meals instead of \
reimbursing individual restaurant bills:
- Full calendar day away from home: 28 EUR
- Day of arrival or departure, and trips of more than 8 hours without an overnight stay: 14 EUR
- Trips of 8 hours or less: no per diem
If a meal is provided, the allowance is reduced by 5.60 EUR for breakfast and by 11.20 EUR each \
for lunch and dinner. Per diem rates for trips abroad follow the official country table \
published by the Federal Ministry of Finance.

6. PRIVATE CAR (MILEAGE)
Using your own car for a business trip must be approved in advance by your team lead. The \
mileage allowance is 0.30 EUR per kilometre driven. Parking fees and tolls are reimbursed \
separately against receipts; fines for traffic or parking violations are never reimbursed.

7. TAXIS, RENTAL CARS AND LOCAL TRANSPORT
Public transport is the first choice at the destination. Taxis and ride-sharing are reimbursed \
for trips before 06:00 or after 22:00, when carrying heavy equipment, or when no public transport \
is available. Rental cars are booked in the compact class through TripDesk; an upgrade is only \
allowed for three or more passengers.

8. CLIENT ENTERTAINMENT
Business meals with customers are reimbursed up to 70 EUR per person, including drinks. The \
receipt must list the names of all participants and the business purpose of the meal.""",
    # Page 3: approvals, submission, reimbursement
    """9. APPROVAL OF EXPENSES
Expense reports are approved according to their total amount:
- Up to 500 EUR: approval by your team lead.
- Above 500 EUR and up to 5,000 EUR: approval by the head of your department.
- Above 5,000 EUR: approval by the Chief Financial Officer (CFO).
Nobody may approve their own expenses. Expenses of the managing directors are approved by the CFO.

10. SUBMITTING EXPENSES
Expense reports are submitted in the expense tool SpendBox within 30 days after the end of the \
trip. A photo of every original receipt must be attached; receipts above 250 EUR must show the \
company name Northwind Atlas GmbH and our VAT number. Reports submitted later than three months \
after the trip are not reimbursed.

11. REIMBURSEMENT
Approved expenses are paid together with the next monthly salary. Employees who travel more than \
four times per quarter can request a corporate credit card from the Finance department.

12. QUESTIONS
Questions about this policy go to the Finance team at finance@northwind-atlas.example.""",
]


def build(samples_dir: Path = SAMPLES_DIR) -> list[Path]:
    """Write ``product-faq.docx`` and ``travel-and-expenses.pdf`` and return their paths."""
    docx_path = write_docx(
        samples_dir / "product-faq.docx", PRODUCT_FAQ_TITLE, PRODUCT_FAQ_SECTIONS
    )
    pdf_path = write_text_pdf(
        samples_dir / "travel-and-expenses.pdf", TRAVEL_PAGES, title=TRAVEL_TITLE
    )
    return [docx_path, pdf_path]


if __name__ == "__main__":
    for written in build():
        print(f"wrote {written.relative_to(REPO_ROOT)} ({written.stat().st_size} bytes)")
