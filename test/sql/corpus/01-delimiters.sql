-- Several DELIMITER strings, each carrying a compound statement, and back to ";" in between.
CREATE TABLE counters (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  value INT NOT NULL DEFAULT 0
);

DELIMITER $$
CREATE PROCEDURE bump(IN counter_name VARCHAR(32), IN step INT)
BEGIN
  INSERT INTO counters (name, value) VALUES (counter_name, step)
    ON DUPLICATE KEY UPDATE value = value + step;
END$$
DELIMITER ;

delimiter ;;
CREATE FUNCTION doubled(x INT) RETURNS INT DETERMINISTIC
BEGIN
  DECLARE result INT;
  SET result = x * 2;
  RETURN result;
END;;
delimiter ;

  DeLiMiTeR //   the rest of this line is ignored
CREATE PROCEDURE count_to(IN n INT, OUT total INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  SET total = 0;
  counting: LOOP
    SET i = i + 1;
    IF i > n THEN
      LEAVE counting;
    ELSEIF MOD(i, 2) = 0 THEN
      SET total = total + i;
    ELSE
      SET total = total + doubled(i);
    END IF;
  END LOOP counting;
END //
DELIMITER ;

DELIMITER @@end@@
CREATE TRIGGER counters_before_insert BEFORE INSERT ON counters FOR EACH ROW
BEGIN
  IF NEW.value < 0 THEN
    SET NEW.value = 0;
  END IF;
  SET NEW.name = LOWER(NEW.name);
END@@end@@
DELIMITER ;

DELIMITER |
CREATE EVENT nightly_reset ON SCHEDULE EVERY 1 DAY DISABLE DO
BEGIN
  UPDATE counters SET value = 0 WHERE name LIKE 'tmp%';
  DELETE FROM counters WHERE value = 0 AND name = 'gone';
END|
DELIMITER ;

DELIMITER $$
CREATE PROCEDURE nested_blocks()
BEGIN
  DECLARE done INT DEFAULT 0;
  outer_block: BEGIN
    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET done = 1;
    inner_block: BEGIN
      INSERT INTO counters (name, value) VALUES ('nested', 1);
    END inner_block;
    CASE done
      WHEN 0 THEN INSERT INTO counters (name, value) VALUES ('case', 2);
      ELSE BEGIN END;
    END CASE;
  END outer_block;
END$$
DELIMITER ;

CALL bump('Apples', 3);
CALL bump('apples', 4);
CALL bump('Pears', -1);
CALL count_to(5, @total);
INSERT INTO counters (name, value) SELECT 'total', @total;
CALL nested_blocks();
