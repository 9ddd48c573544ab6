"""Questions an employee might ask, with the sample document (and PDF page) that answers them.

Each fact lives in exactly one file under ``samples/``. Page numbers are 1-based and only set for
the PDF; ``None`` means the source has no pages.
"""

from __future__ import annotations

SAMPLE_QUESTIONS: list[tuple[str, str, int | None]] = [
    # employee-handbook.md
    ("How many days of holiday do I get each year?", "employee-handbook.md", None),
    ("How long can new parents stay home on paid leave?", "employee-handbook.md", None),
    ("How often am I allowed to work from home per week?", "employee-handbook.md", None),
    ("Who helps me during my first weeks as a new hire?", "employee-handbook.md", None),
    # it-security-policy.html
    ("How long does my password need to be?", "it-security-policy.html", None),
    ("Where should I report a phishing mail or a stolen laptop?", "it-security-policy.html", None),
    ("Can I use SMS codes for two-factor login?", "it-security-policy.html", None),
    # product-faq.docx
    ("What does the Business plan of Atlas Ledger cost per user?", "product-faq.docx", None),
    ("Which file formats can customers export their ledger data to?", "product-faq.docx", None),
    ("When can customers reach Atlas Ledger support?", "product-faq.docx", None),
    ("How many years are accounting records kept in Atlas Ledger?", "product-faq.docx", None),
    # travel-and-expenses.pdf
    (
        "What is the maximum hotel rate per night for trips in Germany?",
        "travel-and-expenses.pdf",
        1,
    ),
    (
        "How much meal allowance do I get for a full day on a business trip?",
        "travel-and-expenses.pdf",
        2,
    ),
    ("What is the reimbursement per km when I drive my own car?", "travel-and-expenses.pdf", 2),
    ("Who needs to sign off an expense report of 7,000 euros?", "travel-and-expenses.pdf", 3),
    ("Who approves an expense claim of 1,200 euros?", "travel-and-expenses.pdf", 3),
    # office-guide.txt
    ("What is the wifi name for visitors?", "office-guide.txt", None),
    ("What time does the cafeteria serve lunch?", "office-guide.txt", None),
    ("Is there car parking at the Hamburg office?", "office-guide.txt", None),
    ("What is the address of the Berlin office?", "office-guide.txt", None),
]

# A snippet of each answer as it appears in the source text (compare after collapsing whitespace,
# since PDF extraction may break lines).
SAMPLE_ANSWER_SNIPPETS: dict[str, str] = {
    "How many days of holiday do I get each year?": "28 vacation days",
    "How long can new parents stay home on paid leave?": "16 weeks of fully paid parental leave",
    "How often am I allowed to work from home per week?": "up to three days per week",
    "Who helps me during my first weeks as a new hire?": "onboarding buddy",
    "How long does my password need to be?": "at least 14 characters long",
    "Where should I report a phishing mail or a stolen laptop?": "security@northwind-atlas.example",
    "Can I use SMS codes for two-factor login?": "sent by SMS are",
    "What does the Business plan of Atlas Ledger cost per user?": "49 euros per user per month",
    "Which file formats can customers export their ledger data to?": "DATEV",
    "When can customers reach Atlas Ledger support?": "07:30 to 19:00",
    "How many years are accounting records kept in Atlas Ledger?": "retained for 10 years",
    "What is the maximum hotel rate per night for trips in Germany?": "Germany: 150 EUR per night",
    "How much meal allowance do I get for a full day on a business trip?": "28 EUR",
    "What is the reimbursement per km when I drive my own car?": "0.30 EUR per kilometre",
    "Who needs to sign off an expense report of 7,000 euros?": "Chief Financial Officer (CFO)",
    "Who approves an expense claim of 1,200 euros?": "head of your department",
    "What is the wifi name for visitors?": "NWA-Guest",
    "What time does the cafeteria serve lunch?": "11:30 to 14:30",
    "Is there car parking at the Hamburg office?": "12 parking spaces",
    "What is the address of the Berlin office?": "Revaler Straße 99",
}
