-- latin1 text and binary strings, written as mysqldump writes them without --hex-blob:
-- every byte as it is, except NUL, quote, backslash, CR, LF and ^Z, which are escaped.
/*!40101 SET NAMES latin1 */;
CREATE TABLE cities (id INT PRIMARY KEY, name VARCHAR(40) CHARACTER SET latin1 NOT NULL, photo BLOB, tag VARBINARY(16)) ENGINE=InnoDB;
INSERT INTO cities VALUES (1,'Kˆln','ˇÿˇ‡\0\0JFIF\0\'\\\n\r\ZÄÅ˛',_binary '√(;'),(2,'Z¸rich; GenËve','\0†\\',NULL),(3,'M·laga -- not a comment','¿¡ıˆ˜¯/* not a comment */',NULL);
/*!40101 SET NAMES utf8mb4 */;
CREATE TABLE name_lengths AS SELECT id, CHAR_LENGTH(name) AS chars, LENGTH(name) AS bytes, LENGTH(photo) AS photo_bytes FROM cities;
