-- The demo shop dataset: 500 customers, 60 products, 3000 orders, generated
-- deterministically so every install serves the same rows. Loaded into
-- <data_dir>/datasets/demo/shop.sqlite on the first start of `sluice serve`.

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT     NOT NULL,
    email      TEXT     NOT NULL,
    city       TEXT     NOT NULL,
    created_at DATETIME NOT NULL
);

CREATE TABLE products (
    id       INTEGER PRIMARY KEY,
    name     TEXT           NOT NULL,
    category TEXT           NOT NULL,
    price    DECIMAL(10, 2) NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER        NOT NULL REFERENCES customers (id),
    product_id  INTEGER        NOT NULL REFERENCES products (id),
    quantity    INT            NOT NULL,
    amount      DECIMAL(10, 2) NOT NULL,
    status      TEXT           NOT NULL,
    created_at  DATETIME       NOT NULL
);

CREATE INDEX orders_customer_id ON orders (customer_id);
CREATE INDEX orders_status_created_at ON orders (status, created_at);

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO customers (id, name, email, city, created_at)
SELECT i,
       (CASE i % 10 WHEN 0 THEN 'Ada' WHEN 1 THEN 'Bo' WHEN 2 THEN 'Chen' WHEN 3 THEN 'Dana' WHEN 4 THEN 'Eli'
                    WHEN 5 THEN 'Fang' WHEN 6 THEN 'Gus' WHEN 7 THEN 'Hana' WHEN 8 THEN 'Ivo' ELSE 'Jun' END)
         || ' ' ||
       (CASE (i / 10) % 8 WHEN 0 THEN 'Li' WHEN 1 THEN 'Smith' WHEN 2 THEN 'Wang' WHEN 3 THEN 'Garcia'
                          WHEN 4 THEN 'Zhang' WHEN 5 THEN 'Novak' WHEN 6 THEN 'Okafor' ELSE 'Sato' END),
       'customer' || i || '@example.com',
       CASE i % 6 WHEN 0 THEN 'Beijing' WHEN 1 THEN 'Shanghai' WHEN 2 THEN 'Hangzhou' WHEN 3 THEN 'Shenzhen'
                  WHEN 4 THEN 'Chengdu' ELSE 'Wuhan' END,
       datetime('2023-01-01 08:00:00', '+' || (i * 17) || ' hours')
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
INSERT INTO products (id, name, category, price)
SELECT i,
       (CASE i % 4 WHEN 0 THEN 'Tea' WHEN 1 THEN 'Lamp' WHEN 2 THEN 'Notebook' ELSE 'Headphones' END) || ' No.' || i,
       CASE i % 4 WHEN 0 THEN 'grocery' WHEN 1 THEN 'home' WHEN 2 THEN 'office' ELSE 'electronics' END,
       printf('%.2f', 5 + (i * 37) % 200 + (i % 100) / 100.0)
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO orders (id, customer_id, product_id, quantity, amount, status, created_at)
SELECT i,
       1 + (i * 7919) % 500,
       1 + (i * 104729) % 60,
       1 + i % 5,
       0,
       CASE i % 10 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'pending' WHEN 2 THEN 'pending' ELSE 'shipped' END,
       datetime('2024-01-01 00:00:00', '+' || (i * 173) || ' minutes')
FROM n;

UPDATE orders SET amount = (SELECT printf('%.2f', p.price * orders.quantity) FROM products p WHERE p.id = orders.product_id);
