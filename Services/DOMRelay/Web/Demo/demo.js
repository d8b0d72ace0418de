// Demo Shop behaviour: the co-browse button, forms that stay on the page, and a cart that
// changes by itself every 3 s (so there is always something moving for the agent to see).
// Tests stop the cart with `window.demoShop.stopCart()` or by loading a page with `?still`.
(function () {
    'use strict';

    // ---- Co-browse button -------------------------------------------------------------

    var button = document.getElementById('start-cobrowse');
    // "On the phone?": a voice call's agent reads out a code, which the SDK's own prompt asks for.
    var phoneButton = document.getElementById('start-with-code');
    var cobrowse = window.CoBrowse;

    function showButton(visible) {
        // Only real changes: setting an attribute to its current value is still a mutation.
        [button, phoneButton].forEach(function (each) {
            if (!each || each.hidden === !visible) return;
            each.hidden = !visible;
            each.disabled = !visible;
        });
    }

    if (button) {
        if (!cobrowse || typeof cobrowse.start !== 'function') {
            // The SDK did not load: say so instead of offering a button that cannot work.
            button.disabled = true;
            button.title = 'The co-browse SDK (/cobrowse.js) did not load';
        } else {
            cobrowse.on('started', function () { showButton(false); });
            cobrowse.on('resumed', function () { showButton(false); });
            cobrowse.on('ended', function () { showButton(true); });
            // A session started on an earlier page carries on here: the SDK picks it up by
            // DOMContentLoaded (its listener was added first, so it has by the time ours runs).
            var checkRunning = function () { if (cobrowse.sessionId) showButton(false); };
            checkRunning();
            if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', checkRunning);

            button.addEventListener('click', function () {
                showButton(false);
                fetch('/dev/interaction-token', { cache: 'no-store' })
                    .then(function (response) {
                        if (!response.ok) throw new Error('token endpoint answered ' + response.status);
                        return response.json();
                    })
                    .then(function (body) { return cobrowse.start({ interactionToken: body.token }); })
                    .catch(function (error) {
                        console.error('co-browse could not start:', error);
                        showButton(!cobrowse.sessionId);
                    });
            });
            if (phoneButton && typeof cobrowse.startWithCode === 'function') {
                phoneButton.addEventListener('click', function () {
                    showButton(false);
                    cobrowse.startWithCode().catch(function (error) {
                        if (error.code !== 'cancelled') console.error('co-browse could not start:', error);
                        showButton(!cobrowse.sessionId);
                    });
                });
            }
        }
    }

    // ---- Forms: never navigate, say it worked -----------------------------------------

    Array.prototype.forEach.call(document.querySelectorAll('form[data-demo-form]'), function (form) {
        form.addEventListener('submit', function (event) {
            event.preventDefault();
            var message = form.querySelector('.message');
            if (message) {
                message.textContent = form.getAttribute('data-demo-form');
                message.hidden = false;
            }
        });
    });

    // ---- The cart ---------------------------------------------------------------------

    var cart = document.getElementById('cart');
    var total = document.getElementById('cart-total');
    var catalog = [
        { name: 'Linen tote bag', price: 24.0 },
        { name: 'Ceramic mug', price: 12.5 },
        { name: 'Desk lamp', price: 49.0 },
        { name: 'Notebook, dotted', price: 8.9 },
        { name: 'Wool socks', price: 14.0 },
        { name: 'Pour-over kettle', price: 39.5 },
        { name: 'Houseplant mister', price: 11.0 }
    ];

    function money(amount) { return '€' + amount.toFixed(2); }

    function items() { return cart ? Array.prototype.slice.call(cart.querySelectorAll('li')) : []; }

    function updateTotal() {
        if (!total) return;
        var sum = items().reduce(function (acc, li) {
            return acc + Number(li.getAttribute('data-price')) * Number(li.getAttribute('data-qty'));
        }, 0);
        total.textContent = money(sum);
    }

    function render(li) {
        var qty = Number(li.getAttribute('data-qty'));
        var price = Number(li.getAttribute('data-price'));
        li.querySelector('.qty').textContent = '× ' + qty;
        li.querySelector('.price').textContent = money(price * qty);
    }

    function addItem(product) {
        var li = document.createElement('li');
        li.setAttribute('data-price', String(product.price));
        li.setAttribute('data-qty', '1');
        var name = document.createElement('span');
        name.className = 'name';
        name.textContent = product.name;
        var qty = document.createElement('span');
        qty.className = 'qty';
        var price = document.createElement('span');
        price.className = 'price';
        li.appendChild(name);
        li.appendChild(qty);
        li.appendChild(price);
        cart.appendChild(li);
        render(li);
    }

    var step = 0;
    function changeCart() {
        var current = items();
        var names = current.map(function (li) { return li.querySelector('.name').textContent; });
        var kind = step++ % 3;
        if (kind === 0 || current.length < 2) {
            var next = catalog.filter(function (product) { return names.indexOf(product.name) < 0; })[0];
            if (next) addItem(next);
            else kind = 2;
        }
        if (kind === 1) {
            var li = current[step % current.length];
            li.setAttribute('data-qty', String(Number(li.getAttribute('data-qty')) % 4 + 1));
            render(li);
        } else if (kind === 2 && current.length > 2) {
            current[0].remove();
        }
        updateTotal();
    }

    var timer = null;
    if (cart) {
        items().forEach(render);
        updateTotal();
        if (!new URLSearchParams(location.search).has('still')) timer = setInterval(changeCart, 3000);
    }

    window.demoShop = {
        /** Stops the cart's changes (for tests that compare pages). */
        stopCart: function () {
            if (timer !== null) clearInterval(timer);
            timer = null;
        },
        /** One change now, as the timer would make it. */
        changeCart: function () { if (cart) changeCart(); }
    };
})();
