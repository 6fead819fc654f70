# Strings and identifiers holding delimiters, quotes, comment markers and backslashes.
CREATE TABLE `odd;table` (
  `id` INT NOT NULL PRIMARY KEY,
  `semi;colon` VARCHAR(100),
  `back``tick` VARCHAR(100),
  `with space` VARCHAR(100),
  `note -- not # a /* comment */` VARCHAR(200)
) COMMENT 'a table; with a comment';

INSERT INTO `odd;table` VALUES (1, 'a;b', 'it''s', "double \"quoted\"; yes", 'one -- two # three /* four */');
INSERT INTO `odd;table` VALUES (2, 'back\\slash', 'quote \' escaped;', 'tab\tand\nnewline', 'dollars $$ and // and ;;');
INSERT INTO `odd;table` VALUES (3, "it's; fine", 'x', 'multi
line; string', '
delimiter $$
');
INSERT INTO `odd;table` VALUES (4, '\\', '''', '""', CONCAT('\\', ';', "\\"));

DELIMITER $$
CREATE PROCEDURE `proc;with``odd name`(IN `in;put` VARCHAR(20))
BEGIN
  INSERT INTO `odd;table` VALUES (5, CONCAT(`in;put`, ';$$;'), 'a''b', "c\"d", 'END$$');
END$$
DELIMITER ;
CALL `proc;with``odd name`('x;y');

CREATE VIEW `view;of``odd` AS SELECT `id`, `semi;colon` AS `a;b`, 'lit;eral' AS `c` FROM `odd;table` WHERE `back``tick` <> 'x;y';
