-- A schema in the style of the public sample databases (Sakila, world, employees): session
-- settings saved and restored, FULLTEXT and spatial columns, views, triggers written between
-- DELIMITER ;; lines, routines between DELIMITER $$ lines, and the data after them.

SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0;
SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0;
SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='TRADITIONAL';

--
-- Table structure for table `category`
--

CREATE TABLE category (
  category_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(25) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY  (category_id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE film (
  film_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  title VARCHAR(128) NOT NULL,
  description TEXT DEFAULT NULL,
  release_year YEAR DEFAULT NULL,
  rating ENUM('G','PG','PG-13','R','NC-17') DEFAULT 'G',
  special_features SET('Trailers','Commentaries','Deleted Scenes','Behind the Scenes') DEFAULT NULL,
  category_id TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY  (film_id),
  KEY idx_title (title),
  CONSTRAINT fk_film_category FOREIGN KEY (category_id) REFERENCES category (category_id) ON DELETE RESTRICT ON UPDATE CASCADE
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

# The full-text copy a trigger keeps in step, as Sakila's film_text.
CREATE TABLE film_text (
  film_id SMALLINT NOT NULL,
  title VARCHAR(255) NOT NULL,
  description TEXT,
  PRIMARY KEY  (film_id),
  FULLTEXT KEY idx_title_description (title,description)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE address (
  address_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  address VARCHAR(50) NOT NULL,
  location GEOMETRY NOT NULL,
  PRIMARY KEY  (address_id),
  SPATIAL KEY idx_location (location)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

--
-- Triggers for loading film_text from film
--

DELIMITER ;;
CREATE TRIGGER `ins_film` AFTER INSERT ON `film` FOR EACH ROW BEGIN
    INSERT INTO film_text (film_id, title, description)
        VALUES (new.film_id, new.title, new.description);
  END;;


CREATE TRIGGER `upd_film` AFTER UPDATE ON `film` FOR EACH ROW BEGIN
    IF (old.title != new.title) OR (old.description != new.description) OR (old.film_id != new.film_id)
    THEN
        UPDATE film_text
            SET title=new.title,
                description=new.description,
                film_id=new.film_id
        WHERE film_id=old.film_id;
    END IF;
  END;;
DELIMITER ;

--
-- Views
--

CREATE VIEW film_list
AS
SELECT film.film_id AS FID, film.title AS title, film.description AS description, category.name AS category,
  film.rating AS rating
FROM category JOIN film ON category.category_id = film.category_id;

CREATE VIEW address_points AS SELECT address_id, ST_X(location) AS x, ST_Y(location) AS y FROM address;

--
-- Procedures and functions
--

DELIMITER $$

CREATE PROCEDURE film_in_category(IN p_category_id INT, OUT p_film_count INT)
READS SQL DATA
BEGIN
     SELECT COUNT(*) INTO p_film_count FROM film WHERE category_id = p_category_id;
END $$

CREATE FUNCTION film_rating_label(p_rating VARCHAR(10)) RETURNS VARCHAR(40)
DETERMINISTIC
BEGIN
  -- The literal comparison is made in the collation the routine was created with.
  IF p_rating = 'pg-13' THEN
    RETURN 'parents strongly cautioned; "13"';
  END IF;
  RETURN CONCAT('rated ', p_rating, '$$');
END $$

DELIMITER ;

--
-- Data
--

INSERT INTO category (category_id, name, last_update) VALUES (1,'Action','2006-02-15 04:46:27'),(2,'Animation','2006-02-15 04:46:27'),(3,'Children','2006-02-15 04:46:27');
INSERT INTO film (film_id, title, description, release_year, rating, special_features, category_id) VALUES
  (1,'ACADEMY DINOSAUR','A Epic Drama of a Feminist And a Mad Scientist who must Battle a Teacher in The Canadian Rockies',2006,'PG','Deleted Scenes,Behind the Scenes',1),
  (2,'ACE GOLDFINGER','A Astounding Epistle of a Database Administrator And a Explorer who must Find a Car in Ancient China',2006,'G','Trailers,Deleted Scenes',2),
  (3,'ADAPTATION HOLES','A Astounding Reflection of a Lumberjack And a Car who must Sink a Lumberjack in A Baloon Factory; it''s "fine"',2006,'NC-17','Trailers,Deleted Scenes',3);
UPDATE film SET title = 'ACE GOLDFINGER II' WHERE film_id = 2;
INSERT INTO address (address_id, address, location) VALUES
  (1,'47 MySakila Drive',ST_GeomFromText('POINT(-112.8185647 49.6999986)')),
  (2,'28 MySQL Boulevard',ST_GeomFromText('POINT(-112.8185673 49.6999951)'));

CREATE TABLE rating_labels AS SELECT rating, film_rating_label(rating) AS label FROM film ORDER BY film_id;
CALL film_in_category(1, @action_films);
CREATE TABLE category_counts AS SELECT @action_films AS action_films;

SET SQL_MODE=@OLD_SQL_MODE;
SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;
SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;
