-- Empty statements, blank lines, and a last statement with no delimiter.
CREATE TABLE items (id INT NOT NULL PRIMARY KEY, label VARCHAR(20));;
;
INSERT INTO items VALUES (1, 'one');  ;  ;

   
INSERT INTO items VALUES (2, 'two')
;
INSERT INTO items VALUES (3, 'three;') -- the last statement has no delimiter
   