-- Überschrift: Grüße 👋 (this file starts with a byte order mark)
CREATE TABLE `städte` (
  `id` INT NOT NULL PRIMARY KEY,
  `näme` VARCHAR(50) NOT NULL COMMENT 'Name — mit Gedankenstrich',
  `emoji` VARCHAR(20)
) COMMENT='Städte; Orte';
INSERT INTO `städte` VALUES (1, 'Zürich', '🏔️'), (2, 'Kraków', '🐉;'), (3, '東京', '🗼'), (4, 'Αθήνα', '🏛');
DELIMITER $$
CREATE FUNCTION grüß(wer VARCHAR(50)) RETURNS VARCHAR(80) DETERMINISTIC
BEGIN
  -- 挨拶: greet; politely
  RETURN CONCAT('Grüß Gott, ', wer, ' ☺');
END$$
DELIMITER ;
INSERT INTO `städte` VALUES (5, grüß('Wien'), NULL);
CREATE VIEW `große_städte` AS SELECT `näme` AS `name`, CONCAT(`emoji`, '·') AS `zeichen` FROM `städte` WHERE `id` <> 4;
