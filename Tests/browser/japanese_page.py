"""The demo shop's Shift_JIS page, and the Japanese text the tests expect on it.

`Services/DOMRelay/Web/Demo/japanese.html` is written by this script (its bytes are Shift_JIS,
which an editor would easily turn into UTF-8):

    python3 Tests/browser/japanese_page.py
"""

import os

# The lines of `#jp-text`: kanji, hiragana, katakana, full-width digits and ￥ prices. Only
# characters every Shift_JIS decoder agrees on (no wave dash, full-width minus or backslash).
PRODUCT_LINES = [
    "手作りの陶器マグカップ（３５０ｍｌ）　￥１，８００",
    "麻のトートバッグ・ナチュラル　￥３，２００",
    "木製デスクランプ「ひかり」　￥６，５００（税込）",
    "ウールの靴下　２足セット　￥１，５４０",
    "送料は全国一律￥５００。５，０００円以上のご注文で送料無料です。",
]

PAGE = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="Shift_JIS">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>デモショップ｜日本のお客様</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="demo.css">
</head>
<body class="jp">
<header class="site-header">
    <div class="inner">
        <a class="logo" href="index.html">Demo<span>Shop</span></a>
        <nav>
            <a id="to-shop" href="index.html">ショップ</a>
            <a href="second.html">ご注文履歴</a>
            <a href="japanese.html" aria-current="page">日本のお客様</a>
        </nav>
        <button id="start-cobrowse" type="button">画面共有を開始</button>
    </div>
</header>

<main>
    <div class="hero">
        <h1>今週のおすすめ商品</h1>
        <p>このページは Shift_JIS で書かれています。文字化けせずに担当者の画面にも表示されるはずです。</p>
    </div>

    <section class="card" id="jp-text">
{product_lines}    </section>

    <section class="columns">
        <div class="card">
            <h2>お届けについて</h2>
            <p>ご注文から３日以内に発送いたします。お急ぎの場合は「翌日配送」をお選びください。</p>
        </div>
        <div class="card">
            <h2>お問い合わせ</h2>
            <p>毎日８時から２０時まで、チャットとお電話で承っております。</p>
        </div>
    </section>

    <p><a id="to-shop-bottom" href="index.html">ショップに戻る</a></p>
</main>

<footer class="site-footer">
    <div class="inner">
        <span>デモショップは架空のお店です。実際の販売・配送は行いません。</span>
    </div>
</footer>

<script src="/cobrowse.js"></script>
<script src="demo.js"></script>
</body>
</html>
"""


def page_bytes():
    product_lines = "".join(f"        <p>{line}</p>\n" for line in PRODUCT_LINES)
    text = PAGE.replace("{product_lines}", product_lines)
    data = text.encode("shift_jis")
    assert data.decode("shift_jis") == text
    assert "\\" not in text and "~" not in text
    return data


PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Services", "DOMRelay", "Web", "Demo",
                    "japanese.html")

if __name__ == "__main__":
    with open(PATH, "wb") as handle:
        handle.write(page_bytes())
    print(f"wrote {os.path.normpath(PATH)}")
