-- CRLF line endings throughout, as saved by a Windows editor.
CREATE TABLE crlf_lines (
  id INT NOT NULL PRIMARY KEY,
  txt VARCHAR(100) NOT NULL
);

INSERT INTO crlf_lines VALUES (1, 'two
lines');
DELIMITER $$
CREATE FUNCTION crlf_label(n INT) RETURNS VARCHAR(40) DETERMINISTIC
BEGIN
  -- comment in a CRLF body
  IF n > 1 THEN
    RETURN CONCAT('many;
', n);
  END IF;
  RETURN 'one';
END$$
DELIMITER ;
INSERT INTO crlf_lines VALUES (2, crlf_label(2)), (3, crlf_label(1));
