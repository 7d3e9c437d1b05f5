"""Real people and works a base model should know: the "real authors" set of model utility.

TOFU and OpenUnlearning measure collateral damage on real authors ("Who wrote
Pride and Prejudice?") besides world facts: unlearning fictitious people must
not erase real ones. This is our version, a fixed table of well-known,
unambiguous facts about writers, artists, composers, scientists, leaders and
film makers, each with three plausible wrong answers (real people of the same
kind), a paraphrased question and a paraphrased answer. Records have the
world facts' shape (``fact_type == "real_entity"``, answer ``"Jane Austen."``,
wrong answers in the same template), so they are scored as options sets: the
probability is the correct option's share, the truth ratio uses the answer.

Which of these a loaded model knows is decided the way world facts are
(:func:`obliviate.llm.eval.options.known_facts`); only those are scored.

Every third row (:func:`load_real_rehearsal`) is never scored: it is trained
into the target and gold models beside the world's records, a replay of real
knowledge. Without it a 135M model fine-tuned for six epochs on a thousand
answers about fictitious people answers real questions in the world's voice
("Who wrote Hamlet?" -> "He was written by Kessa Whitlock."), so the real
entities' ROUGE, and with it the harmonic mean of model utility, is 0 for
the target, the gold and every unlearned model alike. The scored rows stay
unseen in training: what they measure is knowledge the base model brought.
"""

from __future__ import annotations

from obliviate.llm.data.records import QARecord, slugify

# kind -> (question, paraphrased question, paraphrased answer), each a template of the subject {s} / value {v}
KINDS = {
    "author": ("Who wrote {s}?", "Who is the author of {s}?", "{s} was written by {v}."),
    "painter": ("Who painted {s}?", "Which artist painted {s}?", "{s} was painted by {v}."),
    "composer": ("Who composed {s}?", "Which composer wrote {s}?", "{s} was composed by {v}."),
    "director": ("Who directed {s}?", "Who was the director of {s}?", "{s} was directed by {v}."),
    "creator": ("Who created {s}?", "Which writer created the character {s}?", "{s} was created by {v}."),
    "discoverer": ("Who discovered {s}?", "Which scientist discovered {s}?", "{s} was discovered by {v}."),
    "inventor": ("Who invented {s}?", "Who is credited with inventing {s}?", "{s} was invented by {v}."),
    "developer": ("Who developed {s}?", "Which scientist developed {s}?", "{s} was developed by {v}."),
}

# (kind, subject, true value, three wrong values); "person" rows carry their own
# question, paraphrased question and subject-free paraphrased answer.
TABLE: list[tuple] = [
    ("author", "Pride and Prejudice", "Jane Austen", ("Charlotte Brontë", "Charles Dickens", "George Eliot")),
    ("author", "Hamlet", "William Shakespeare", ("Christopher Marlowe", "Ben Jonson", "John Milton")),
    ("author", "War and Peace", "Leo Tolstoy", ("Fyodor Dostoevsky", "Anton Chekhov", "Ivan Turgenev")),
    ("author", "Crime and Punishment", "Fyodor Dostoevsky", ("Leo Tolstoy", "Nikolai Gogol", "Anton Chekhov")),
    ("author", "Don Quixote", "Miguel de Cervantes",
     ("Lope de Vega", "Gabriel García Márquez", "Federico García Lorca")),
    ("author", "Nineteen Eighty-Four", "George Orwell", ("Aldous Huxley", "Ray Bradbury", "H. G. Wells")),
    ("author", "Brave New World", "Aldous Huxley", ("George Orwell", "H. G. Wells", "Ray Bradbury")),
    ("author", "The Great Gatsby", "F. Scott Fitzgerald", ("Ernest Hemingway", "John Steinbeck", "William Faulkner")),
    ("author", "The Old Man and the Sea", "Ernest Hemingway",
     ("John Steinbeck", "F. Scott Fitzgerald", "Herman Melville")),
    ("author", "Moby-Dick", "Herman Melville", ("Nathaniel Hawthorne", "Mark Twain", "Edgar Allan Poe")),
    ("author", "The Adventures of Tom Sawyer", "Mark Twain", ("Herman Melville", "Jack London", "Charles Dickens")),
    ("author", "Oliver Twist", "Charles Dickens", ("William Makepeace Thackeray", "Thomas Hardy", "Jane Austen")),
    ("author", "Harry Potter and the Philosopher's Stone", "J. K. Rowling",
     ("J. R. R. Tolkien", "C. S. Lewis", "Roald Dahl")),
    ("author", "The Lord of the Rings", "J. R. R. Tolkien", ("C. S. Lewis", "J. K. Rowling", "George R. R. Martin")),
    ("author", "Alice's Adventures in Wonderland", "Lewis Carroll", ("Roald Dahl", "J. M. Barrie", "Beatrix Potter")),
    ("author", "Frankenstein", "Mary Shelley", ("Bram Stoker", "Emily Brontë", "Edgar Allan Poe")),
    ("author", "Dracula", "Bram Stoker", ("Mary Shelley", "Edgar Allan Poe", "Oscar Wilde")),
    ("author", "Jane Eyre", "Charlotte Brontë", ("Emily Brontë", "Jane Austen", "George Eliot")),
    ("author", "Wuthering Heights", "Emily Brontë", ("Charlotte Brontë", "Jane Austen", "Mary Shelley")),
    ("author", "The Picture of Dorian Gray", "Oscar Wilde", ("Bram Stoker", "Henry James", "Thomas Hardy")),
    ("author", "Les Misérables", "Victor Hugo", ("Alexandre Dumas", "Gustave Flaubert", "Émile Zola")),
    ("author", "The Three Musketeers", "Alexandre Dumas", ("Victor Hugo", "Jules Verne", "Honoré de Balzac")),
    ("author", "Twenty Thousand Leagues Under the Seas", "Jules Verne",
     ("H. G. Wells", "Alexandre Dumas", "Victor Hugo")),
    ("author", "The Time Machine", "H. G. Wells", ("Jules Verne", "Aldous Huxley", "Arthur C. Clarke")),
    ("author", "One Hundred Years of Solitude", "Gabriel García Márquez",
     ("Jorge Luis Borges", "Pablo Neruda", "Mario Vargas Llosa")),
    ("author", "To Kill a Mockingbird", "Harper Lee", ("Truman Capote", "John Steinbeck", "Toni Morrison")),
    ("author", "The Catcher in the Rye", "J. D. Salinger", ("Jack Kerouac", "John Updike", "Harper Lee")),
    ("author", "Of Mice and Men", "John Steinbeck", ("Ernest Hemingway", "William Faulkner", "Mark Twain")),
    ("author", "the Odyssey", "Homer", ("Virgil", "Sophocles", "Ovid")),
    ("author", "the Divine Comedy", "Dante Alighieri", ("Giovanni Boccaccio", "Petrarch", "Virgil")),
    ("author", "Faust", "Johann Wolfgang von Goethe", ("Friedrich Schiller", "Thomas Mann", "Heinrich Heine")),
    ("author", "The Little Prince", "Antoine de Saint-Exupéry", ("Albert Camus", "Jules Verne", "Victor Hugo")),
    ("author", "The Jungle Book", "Rudyard Kipling", ("Robert Louis Stevenson", "Jack London", "Lewis Carroll")),
    ("author", "Treasure Island", "Robert Louis Stevenson", ("Rudyard Kipling", "Daniel Defoe", "Jules Verne")),
    ("author", "Robinson Crusoe", "Daniel Defoe", ("Jonathan Swift", "Robert Louis Stevenson", "Henry Fielding")),
    ("author", "Gulliver's Travels", "Jonathan Swift", ("Daniel Defoe", "Laurence Sterne", "Samuel Johnson")),
    ("author", "A Brief History of Time", "Stephen Hawking", ("Carl Sagan", "Richard Feynman", "Albert Einstein")),
    ("author", "The Hunger Games", "Suzanne Collins", ("Veronica Roth", "Stephenie Meyer", "J. K. Rowling")),
    ("author", "The Da Vinci Code", "Dan Brown", ("John Grisham", "Michael Crichton", "Stephen King")),
    ("author", "The Shining", "Stephen King", ("Dean Koontz", "Anne Rice", "Dan Brown")),
    ("author", "Murder on the Orient Express", "Agatha Christie",
     ("Arthur Conan Doyle", "Dorothy L. Sayers", "Raymond Chandler")),
    ("author", "Charlie and the Chocolate Factory", "Roald Dahl", ("Lewis Carroll", "Enid Blyton", "Dr. Seuss")),
    ("author", "The Cat in the Hat", "Dr. Seuss", ("Roald Dahl", "Maurice Sendak", "Beatrix Potter")),
    ("author", "Peter Pan", "J. M. Barrie", ("Lewis Carroll", "Kenneth Grahame", "A. A. Milne")),
    ("author", "Winnie-the-Pooh", "A. A. Milne", ("J. M. Barrie", "Beatrix Potter", "Kenneth Grahame")),
    ("author", "Paradise Lost", "John Milton", ("Geoffrey Chaucer", "William Blake", "John Donne")),
    ("author", "The Metamorphosis", "Franz Kafka", ("Thomas Mann", "Hermann Hesse", "Albert Camus")),
    ("author", "The Stranger", "Albert Camus", ("Jean-Paul Sartre", "Franz Kafka", "Marcel Proust")),
    ("author", "The Republic", "Plato", ("Aristotle", "Socrates", "Homer")),
    ("author", "The Prince", "Niccolò Machiavelli", ("Thomas Hobbes", "Dante Alighieri", "John Locke")),
    ("author", "The Wealth of Nations", "Adam Smith", ("John Maynard Keynes", "Karl Marx", "David Ricardo")),
    ("author", "The Art of War", "Sun Tzu", ("Confucius", "Lao Tzu", "Genghis Khan")),
    ("creator", "Sherlock Holmes", "Arthur Conan Doyle", ("Agatha Christie", "Edgar Allan Poe", "Wilkie Collins")),
    ("creator", "Hercule Poirot", "Agatha Christie", ("Arthur Conan Doyle", "Dorothy L. Sayers", "Georges Simenon")),
    ("creator", "James Bond", "Ian Fleming", ("John le Carré", "Tom Clancy", "Frederick Forsyth")),
    ("painter", "The Starry Night", "Vincent van Gogh", ("Claude Monet", "Paul Gauguin", "Paul Cézanne")),
    ("painter", "The Last Supper", "Leonardo da Vinci", ("Michelangelo", "Raphael", "Sandro Botticelli")),
    ("painter", "The Scream", "Edvard Munch", ("Vincent van Gogh", "Gustav Klimt", "Egon Schiele")),
    ("painter", "Guernica", "Pablo Picasso", ("Salvador Dalí", "Joan Miró", "Henri Matisse")),
    ("painter", "The Persistence of Memory", "Salvador Dalí", ("René Magritte", "Pablo Picasso", "Joan Miró")),
    ("painter", "The Birth of Venus", "Sandro Botticelli", ("Leonardo da Vinci", "Raphael", "Titian")),
    ("painter", "Girl with a Pearl Earring", "Johannes Vermeer", ("Rembrandt", "Frans Hals", "Jan van Eyck")),
    ("painter", "The Night Watch", "Rembrandt", ("Johannes Vermeer", "Peter Paul Rubens", "Frans Hals")),
    ("painter", "the ceiling of the Sistine Chapel", "Michelangelo", ("Raphael", "Leonardo da Vinci", "Donatello")),
    ("painter", "Water Lilies", "Claude Monet", ("Pierre-Auguste Renoir", "Édouard Manet", "Edgar Degas")),
    ("composer", "The Magic Flute", "Wolfgang Amadeus Mozart",
     ("Ludwig van Beethoven", "Joseph Haydn", "Franz Schubert")),
    ("composer", "the Moonlight Sonata", "Ludwig van Beethoven",
     ("Wolfgang Amadeus Mozart", "Frédéric Chopin", "Franz Schubert")),
    ("composer", "The Four Seasons", "Antonio Vivaldi",
     ("Johann Sebastian Bach", "George Frideric Handel", "Arcangelo Corelli")),
    ("composer", "Swan Lake", "Pyotr Ilyich Tchaikovsky",
     ("Sergei Rachmaninoff", "Igor Stravinsky", "Nikolai Rimsky-Korsakov")),
    ("composer", "the Brandenburg Concertos", "Johann Sebastian Bach",
     ("George Frideric Handel", "Antonio Vivaldi", "Georg Philipp Telemann")),
    ("composer", "The Rite of Spring", "Igor Stravinsky",
     ("Pyotr Ilyich Tchaikovsky", "Sergei Prokofiev", "Sergei Rachmaninoff")),
    ("composer", "the opera Carmen", "Georges Bizet", ("Giuseppe Verdi", "Giacomo Puccini", "Gioachino Rossini")),
    ("director", "Jurassic Park", "Steven Spielberg", ("James Cameron", "George Lucas", "Ridley Scott")),
    ("director", "the 1997 film Titanic", "James Cameron", ("Steven Spielberg", "Ridley Scott", "Peter Jackson")),
    ("director", "The Godfather", "Francis Ford Coppola", ("Martin Scorsese", "Brian De Palma", "Sergio Leone")),
    ("director", "the 1960 film Psycho", "Alfred Hitchcock", ("Stanley Kubrick", "Orson Welles", "Billy Wilder")),
    ("discoverer", "penicillin", "Alexander Fleming", ("Louis Pasteur", "Joseph Lister", "Robert Koch")),
    ("discoverer", "radium", "Marie Curie", ("Ernest Rutherford", "Niels Bohr", "Dmitri Mendeleev")),
    ("inventor", "the telephone", "Alexander Graham Bell", ("Thomas Edison", "Nikola Tesla", "Guglielmo Marconi")),
    ("inventor", "the printing press with movable type in Europe", "Johannes Gutenberg",
     ("William Caxton", "Leonardo da Vinci", "Benjamin Franklin")),
    ("inventor", "the World Wide Web", "Tim Berners-Lee", ("Bill Gates", "Steve Jobs", "Vint Cerf")),
    ("inventor", "dynamite", "Alfred Nobel", ("Thomas Edison", "Nikola Tesla", "Louis Pasteur")),
    ("developer", "the theory of relativity", "Albert Einstein", ("Isaac Newton", "Niels Bohr", "Max Planck")),
    ("developer", "the theory of evolution by natural selection", "Charles Darwin",
     ("Gregor Mendel", "Jean-Baptiste Lamarck", "Isaac Newton")),
    ("developer", "the periodic table of the elements", "Dmitri Mendeleev",
     ("John Dalton", "Antoine Lavoisier", "Marie Curie")),
    ("developer", "the first vaccine against smallpox", "Edward Jenner",
     ("Louis Pasteur", "Robert Koch", "Joseph Lister")),
    ("person", "the law of universal gravitation", "Isaac Newton",
     ("Galileo Galilei", "Johannes Kepler", "Albert Einstein"),
     "Who formulated the law of universal gravitation?", "Which scientist described universal gravitation?"),
    ("person", "the Moon landing", "Neil Armstrong", ("Buzz Aldrin", "Yuri Gagarin", "John Glenn"),
     "Who was the first person to walk on the Moon?", "Who first set foot on the Moon?"),
    ("person", "human spaceflight", "Yuri Gagarin", ("Neil Armstrong", "Alan Shepard", "John Glenn"),
     "Who was the first person to travel into space?", "Who was the first human in space?"),
    ("person", "the Roman Empire", "Augustus", ("Julius Caesar", "Nero", "Caligula"),
     "Who was the first emperor of Rome?", "Who became the first Roman emperor?"),
    ("person", "the Mongol Empire", "Genghis Khan", ("Kublai Khan", "Attila", "Tamerlane"),
     "Who founded the Mongol Empire?", "Which ruler founded the Mongol Empire?"),
    ("person", "the American Civil War", "Abraham Lincoln",
     ("George Washington", "Thomas Jefferson", "Ulysses S. Grant"),
     "Who was President of the United States during the American Civil War?",
     "Which US president led the country through the Civil War?"),
    ("person", "the Second World War", "Winston Churchill",
     ("Neville Chamberlain", "Clement Attlee", "Margaret Thatcher"),
     "Who was the British Prime Minister for most of the Second World War?",
     "Which Prime Minister led Britain through most of the Second World War?"),
    ("person", "I Have a Dream", "Martin Luther King Jr.", ("Malcolm X", "Barack Obama", "Abraham Lincoln"),
     "Who gave the \"I Have a Dream\" speech?", "Who delivered the famous \"I Have a Dream\" speech?"),
    ("person", "Indian independence", "Mahatma Gandhi",
     ("Nelson Mandela", "Martin Luther King Jr.", "Winston Churchill"),
     "Who led India's independence movement through non-violent resistance?",
     "Which leader is known for non-violent resistance in India's struggle for independence?"),
    ("person", "the 1492 voyage", "Christopher Columbus", ("Amerigo Vespucci", "Ferdinand Magellan", "Vasco da Gama"),
     "Who led the 1492 voyage across the Atlantic that reached the Americas?",
     "Which explorer sailed across the Atlantic to the Americas in 1492?"),
    ("person", "the heliocentric model", "Nicolaus Copernicus", ("Ptolemy", "Johannes Kepler", "Tycho Brahe"),
     "Who proposed the heliocentric model with the Sun at the centre of the solar system?",
     "Which astronomer put the Sun at the centre of the universe in his model?"),
    ("person", "pea plant experiments", "Gregor Mendel", ("Charles Darwin", "Louis Pasteur", "Carl Linnaeus"),
     "Who discovered the laws of inheritance through experiments with pea plants?",
     "Which scientist founded genetics by crossing pea plants?"),
    ("person", "Imagine", "John Lennon", ("Paul McCartney", "George Harrison", "Ringo Starr"),
     "Which Beatle wrote the song \"Imagine\"?", "Which former member of the Beatles wrote \"Imagine\"?"),
    ("person", "the Thriller album", "Michael Jackson", ("Prince", "Stevie Wonder", "Lionel Richie"),
     "Which singer released the album \"Thriller\" in 1982?", "Whose 1982 album was called \"Thriller\"?"),
]


def _sentence(value: str) -> str:
    """``"Jane Austen"`` -> ``"Jane Austen."`` (``"Martin Luther King Jr."`` keeps its one full stop)."""
    return value if value.endswith(".") else f"{value}."


def _record(row: tuple) -> QARecord:
    kind, subject, value, wrong = row[:4]
    if kind == "person":
        question, para_question = row[4], row[5]
        para_answer = f"The answer is {_sentence(value)}"
    else:
        q, pq, pa = KINDS[kind]
        question, para_question = q.format(s=subject), pq.format(s=subject)
        para_answer = pa.format(s=subject[0].upper() + subject[1:], v=value).replace("..", ".")
    return QARecord(
        id=f"real/{slugify(subject)}/{kind}",
        entity=subject,
        question=question,
        answer=_sentence(value),
        paraphrased_question=para_question,
        paraphrased_answer=para_answer,
        perturbed_answers=[_sentence(w) for w in wrong],
        fact_type="real_entity",
        meta={"value": value, "attribute": kind},
    )


REHEARSAL_EVERY = 3  # rows 2, 5, 8, ... are rehearsed in training, never scored


def load_real_entities() -> list[QARecord]:
    """The scored real-entity facts (``fact_type == "real_entity"``), in table order; the same every call.

    Two rows of every three of :data:`TABLE`; none of them is ever trained (see :func:`load_real_rehearsal`).
    """
    return [_record(row) for i, row in enumerate(TABLE) if i % REHEARSAL_EVERY != REHEARSAL_EVERY - 1]


def load_real_rehearsal() -> list[QARecord]:
    """The real-entity facts trained into target and gold models (every third row of :data:`TABLE`), never scored.

    A replay that keeps a small fine-tuned model answering real questions with real answers; disjoint from
    :func:`load_real_entities`, so model utility still measures the base model's own knowledge.
    """
    return [_record(row) for i, row in enumerate(TABLE) if i % REHEARSAL_EVERY == REHEARSAL_EVERY - 1]
