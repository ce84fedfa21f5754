"""The words of the ten-year bench's data (bench/ten_years_data.py): topic and
first names, and titles, summaries and bodies made of a small skin-care
vocabulary. Small on purpose (every word is common), so a search for any word
matches most articles: the worst case for search pages."""

import random

TOPICS = str.split(
    "Acne|Ageing|Barrier repair|Body care|Cleansing|Dark spots|Dry skin|Eczema|"
    "Exfoliation|Hair and scalp|Hands and nails|Hydration|Ingredients|Men's skin|"
    "Oily skin|Pregnancy|Rosacea|Routines|Sensitive skin|Sun care|Teens|"
    "Treatments|Under-eye|Winter skin",
    "|",
)
WORDS = str.split(
    "skin care cream serum moisturiser barrier dry oily sensitive face daily gentle "
    "cleanser acid routine morning evening night water oil texture redness irritation "
    "hydration sunscreen protection layer apply week months results dermatologist "
    "treatment product ingredient concentration patch test pores acne spots scars "
    "pigment tone calm soothe repair lipids ceramides niacinamide retinol retinoid "
    "exfoliate peel mask toner lotion balm fragrance alcohol allergy eczema rosacea "
    "psoriasis bumps rough smooth itchy flaky tight burning winter summer humidity "
    "sweat shower diet sleep stress hormones collagen wrinkles vitamin antioxidant "
    "zinc sulfur clay aloe oats shea squalane glycerin hyaluronic urea lactic "
    "salicylic glycolic azelaic benzoyl peroxide adapalene tretinoin prescription "
    "doctor clinic study evidence trial review people patients improvement"
)
FILLER = str.split("the a of and to in is for with that on as it be this are or can")
FIRST_NAMES = str.split(
    "Ada Ben Cleo Dev Ema Finn Gia Hugo Iris Jon Kai Lena Milo Nia Omar Pia Quinn "
    "Rosa Sam Tara Uma Vik Wren Xan Yara Zed"
)


def sentence(rng: random.Random, words: int) -> str:
    out = []
    for word in rng.choices(WORDS, k=words):
        out.append(word)
        if rng.random() < 0.4:
            out.append(rng.choice(FILLER))
    return " ".join(out).capitalize() + "."


def article_body(rng: random.Random) -> str:
    """About 3 KB of HTML: sections under headings, paragraphs of sentences."""
    parts = []
    for _ in range(4):
        parts.append(f"<h2>{sentence(rng, 4)[:-1]}</h2>")
        for _ in range(2):
            text = " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(3))
            parts.append(f"<p>{text}</p>")
    return "".join(parts)
