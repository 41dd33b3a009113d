-- The seed's MySQL side: database kafka_demo, its user claus (the seed's credentials) and the table sample_data, recreated empty.
CREATE DATABASE IF NOT EXISTS kafka_demo;
CREATE USER IF NOT EXISTS 'claus'@'%' IDENTIFIED BY 'LvRaikkonen_0306';
GRANT ALL PRIVILEGES ON kafka_demo.* TO 'claus'@'%';
DROP TABLE IF EXISTS kafka_demo.sample_data;
-- update_ts may be NULL (the seed sets validate.non.null=false); MariaDB stamps inserts and updates.
CREATE TABLE kafka_demo.sample_data (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(50),
  update_ts TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
);
