/* A header comment
   spanning lines; with a semicolon */
-- dash comment; with a semicolon
#hash comment; with a semicolon
--	tab after the dashes; still a comment
--
CREATE TABLE notes ( -- trailing comment
  id INT NOT NULL PRIMARY KEY, # hash comment
  body VARCHAR(100) /* inline */ NOT NULL,
  delimiter_note VARCHAR(20)
    NOT NULL DEFAULT 'x'
) /*!50100 ENGINE=InnoDB */ /*!40101 DEFAULT CHARSET=utf8mb4 */;

/*!40101 SET @saved_sql_mode = @@SQL_MODE */;
INSERT INTO notes (id, body) VALUES (1, 'one'), /* between rows */ (2, 'two');
INSERT INTO notes (id, body) VALUES (3, 'three')-- dashes right after a token
;
INSERT /*+ SET_VAR(sort_buffer_size = 262144) */ INTO notes (id, body) SELECT 4, 'four';
SELECT 1/*glued*/+1 INTO @two;
INSERT INTO notes (id, body) VALUES (@two + 3, 'five'/*x*/);

DELIMITER $$
CREATE PROCEDURE annotated()
  COMMENT 'has comments; inside'
BEGIN
  -- a dash comment inside the body
  # a hash comment inside the body
  /* a block comment
     inside the body; with a semicolon */
  DECLARE n INT DEFAULT 0; -- trailing
  SELECT COUNT(*)/*glued*/INTO n FROM notes WHERE
delimiter_note = 'x'
    AND id > 0;
  INSERT INTO notes (id, body) VALUES (100 + n, CONCAT('count ', n)) /*!50003 , (200, 'exec') */;
END$$ -- after the delimiter
DELIMITER ;
CALL annotated();

CREATE VIEW note_bodies AS SELECT /* view comment */ id, UPPER(body) AS loud FROM notes WHERE id < 100;
/*M!100100 INSERT INTO notes (id, body) VALUES (300, 'mariadb only') */;
