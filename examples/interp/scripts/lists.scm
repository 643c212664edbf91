; lists.scm: recursive list building, higher-order procedures, deep
; (non-tail) recursion and a set-cdr! cycle.
; expect: (338350 5000 (1 4 9 16 25) 2500 #t 25000)

(define (range a b)                       ; (a a+1 ... b-1), not tail-recursive
  (if (>= a b) '() (cons a (range (+ a 1) b))))

(define (square x) (* x x))
(define (sum l) (fold + 0 l))

(define (build-chain n)                   ; 5000 nested calls deep
  (if (= n 0) '() (cons n (build-chain (- n 1)))))

(define (make-ring n)                     ; a list whose last pair points to the first
  (let ((l (range 0 n)))
    (let loop ((p l))
      (if (null? (cdr p)) (set-cdr! p l) (loop (cdr p))))
    l))

(define (ring-take ring k)
  (let loop ((p ring) (k k) (acc '()))
    (if (= k 0) (reverse acc) (loop (cdr p) (- k 1) (cons (car p) acc)))))

(define (churn rounds)                    ; lots of short-lived lists
  (let loop ((i 0) (total 0))
    (if (= i rounds)
        total
        (loop (+ i 1) (+ total (length (filter even? (range 0 100))))))))

(define squares (map square (range 1 101)))
(display "sum of squares 1..100: ") (display (sum squares)) (newline)
(define ring (make-ring 10))
(display "first 12 of a 10-ring: ") (display (ring-take ring 12)) (newline)

(list (sum squares)
      (length (build-chain 5000))
      (ring-take (map square (range 1 6)) 5)
      (churn 50)
      (equal? (append (range 0 3) (range 3 6)) (range 0 6))
      (let loop ((i 0) (n 0)) (if (= i 100) n (loop (+ i 1) (+ n (length (ring-take (make-ring 250) 250)))))))
