"""The course's colours: the Okabe-Ito palette, distinguishable with every common colour-vision
deficiency, and one colour per idea, the same on every page."""

BLACK, ORANGE, SKY_BLUE, GREEN, YELLOW, BLUE, VERMILLION, PURPLE, GREY = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, YELLOW, BLACK]

# One colour per idea, the same on every page.
ROLE_COLORS = {"anchor": BLUE, "positive": GREEN, "negative": VERMILLION}
KIND_COLORS = {"hard": VERMILLION, "semi-hard": ORANGE, "easy": SKY_BLUE}  # triplet difficulty
SAME_DIFFERENT_COLORS = {"same person": GREEN, "different people": VERMILLION}
