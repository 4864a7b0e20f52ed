"""Files the attachment tests send: made here with Pillow, except a real voice message.

``media/voice.ogg`` is 4 s of Ogg Opus (libopus through libsndfile) kept in
the repository, so that the page's player has something it can decode and
time; the pictures and the PDF are drawn on each run.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

VOICE = Path(__file__).with_name("media") / "voice.ogg"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def error_screenshot(width: int = 960, height: int = 600) -> bytes:
    """A JPEG of a phone-shop checkout with a red payment error: what users send."""
    image = Image.new("RGB", (width, height), "#eef1f5")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 56), fill="#2b3a55")
    draw.text((24, 16), "MyShop · Checkout", font=_font(24), fill="white")
    draw.rounded_rectangle((120, 96, width - 120, height - 60), radius=18, fill="white")
    draw.text((160, 130), "Order #58213", font=_font(30), fill="#1d2329")
    for row, (label, value) in enumerate(
        [("Wireless earbuds", "$49.00"), ("Delivery", "$4.90"), ("Total", "$53.90")]
    ):
        y = 190 + row * 44
        draw.text((160, y), label, font=_font(22), fill="#5b6570")
        draw.text((width - 300, y), value, font=_font(22), fill="#1d2329")
    draw.rounded_rectangle((160, 340, width - 160, 420), radius=10, fill="#fde8e7")
    draw.text((184, 352), "Payment declined", font=_font(24), fill="#b42318")
    draw.text((184, 386), "Your card was refused (code 51).", font=_font(20), fill="#b42318")
    draw.rounded_rectangle((160, 450, 420, 500), radius=10, fill="#1f6feb")
    draw.text((206, 462), "Try again", font=_font(22), fill="white")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def annotated_screenshot(width: int = 640, height: int = 400) -> bytes:
    """A PNG a manager would paste: a settings page with the right switch circled."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 44), fill="#f0f2f5")
    draw.text((16, 10), "Settings › Payments", font=_font(20), fill="#1d2329")
    for row, label in enumerate(["Save card", "3-D Secure", "Online payments abroad"]):
        y = 80 + row * 70
        draw.text((32, y), label, font=_font(22), fill="#1d2329")
        on = row != 2
        draw.rounded_rectangle(
            (width - 120, y - 4, width - 60, y + 26), radius=15, fill="#18794e" if on else "#c4c9d0"
        )
        knob = width - 90 if on else width - 118
        draw.ellipse((knob, y - 2, knob + 26, y + 24), fill="white")
    draw.ellipse((width - 150, 208, width - 30, 276), outline="#d92d20", width=5)
    draw.text((32, 320), "Turn this on, then pay again.", font=_font(22), fill="#d92d20")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def invoice_pdf() -> bytes:
    """A one-page PDF invoice."""
    page = Image.new("RGB", (595, 842), "white")
    draw = ImageDraw.Draw(page)
    draw.text((48, 48), "INVOICE 2026-1187", font=_font(28), fill="#1d2329")
    draw.text((48, 96), "MyShop Ltd. · Order #58213", font=_font(16), fill="#5b6570")
    for row, (label, value) in enumerate(
        [("Wireless earbuds", "$49.00"), ("Delivery", "$4.90"), ("Total paid", "$53.90")]
    ):
        draw.text((48, 170 + row * 32), label, font=_font(16), fill="#1d2329")
        draw.text((440, 170 + row * 32), value, font=_font(16), fill="#1d2329")
    out = io.BytesIO()
    page.save(out, "PDF", resolution=72)
    return out.getvalue()


def voice() -> bytes:
    return VOICE.read_bytes()


#: Bytes of no type the desk accepts (an ELF program header and noise).
PROGRAM = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8
